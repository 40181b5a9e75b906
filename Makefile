# The two set-up commands of the README are `make demo` and `make test`.
CARGO ?= cargo
BIN := target/release/paper_trader

.PHONY: build test demo bench bench-detail lint sample fmt soak queue-truth-table

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

fmt:
	$(CARGO) fmt --all

# Regenerate the shipped sample recording byte-identically.
sample: build
	rm -rf recordings/sample
	$(BIN) synth --seed 42 --duration 2h --coins BTC --out recordings/sample

# The queue models scored against the synthetic venue's exact queue (docs/QUEUE_TRUTH.md).
queue-truth-table: build
	scripts/queue_truth_table.sh
