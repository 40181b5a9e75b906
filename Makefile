# The two set-up commands of the README are `make demo` and `make test`.
CARGO ?= cargo
BIN := target/release/paper_trader

.PHONY: build test demo bench bench-detail bench-python lint sample fmt soak queue-truth-table python python-test

build:
	$(CARGO) build --release

# The whole suite, in release mode (the replay and crash tests are data-heavy). Property tests
# draw from a fixed seed here so that a run is reproducible; override PROPTEST_RNG_SEED (or run
# cargo test directly) to explore new cases.
# The workspace's default members include examples/custom_strategy: the build makes its binary
# and the suite replays the sample through it (examples/custom_strategy/tests/).
PROPTEST_RNG_SEED ?= 20261124
test:
	$(CARGO) build --release
	PROPTEST_RNG_SEED=$(PROPTEST_RNG_SEED) $(CARGO) test --release --all-targets
	$(MAKE) python-test

# The standing damage campaign (issue 11; docs/RELIABILITY.md): real kills of a recorder,
# truncations and bit flips of a real import, every command on each damaged file, and a table
# of trials and failures. Sizes: SOAK_KILLS, SOAK_TRUNCATIONS, SOAK_FLIPS, SOAK_SEED.
soak:
	$(CARGO) build --release
	$(CARGO) test --release --test soak -- --ignored --nocapture soak

# The main job on the embedded default: replay the shipped sample recording.
demo: build
	$(BIN) demo --replace

# Benchmarks print figures and ratios against floors measured in the same run: `bench` one
# table of issue 16's targets (docs/PERFORMANCE.md), `bench-detail` every area's figures.
bench:
	$(CARGO) bench --bench targets

bench-detail:
	$(CARGO) bench --bench log --bench venue --bench synth --bench engine --bench live

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p paper_trader_py --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Regenerate the shipped sample recording byte-identically.
sample: build
	rm -rf recordings/sample
	$(BIN) synth --seed 42 --duration 2h --coins BTC --out recordings/sample

# The queue models scored against the synthetic venue's exact queue (docs/QUEUE_TRUTH.md).
queue-truth-table: build
	scripts/queue_truth_table.sh

# The Python package (python/, docs/PYTHON.md), optional: a .venv/ at the project root with the
# pinned dev requirements (installed again only when the file changes), the extension built by
# maturin into target/wheels/, installed over whatever version was there.
VENV := .venv
PY := $(VENV)/bin/python
PY_REQS := python/requirements-dev.txt

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.deps: $(PY_REQS) | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(PY_REQS)
	touch $@

python: $(VENV)/.deps
	rm -rf target/wheels/paper_trader-*.whl
	$(VENV)/bin/maturin build --release --quiet -m python/Cargo.toml --out target/wheels
	$(PY) -m pip install -q --force-reinstall --no-deps target/wheels/paper_trader-*.whl

# The package's pytest suite (python/tests/).
python-test: python
	$(PY) -m pytest -q python/tests

# The overhead of a strategy written in Python against its Rust twin (docs/PYTHON.md).
bench-python: python
	$(PY) python/bench/strategy_overhead.py
