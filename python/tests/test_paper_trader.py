"""The Python package against the CLI on the shipped sample (real files, real processes)."""

import json
import os
import subprocess
import threading
import time

import pyarrow.parquet as pq
import pytest

import paper_trader as pt
from paper_trader.examples import InventorySkewQuoter, TouchQuoter

FILL_COLUMNS = [
    "recv_ns", "time_utc", "fill_id", "order_id", "coin", "side", "price", "price_f64", "size",
    "size_f64", "fee", "kind", "level", "strategy", "toxicity",
]


def summary(d):
    with open(os.path.join(d, "summary.json")) as f:
        return json.load(f)


def run_cli(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True)


def first_ns(rec):
    return next(iter(pt.open_recording(rec))).recv_ns


# --- data access -------------------------------------------------------------------------------


def test_recording_header_records_arrow_and_events(sample):
    rec = pt.open_recording(sample)
    assert rec.venue == "hyperliquid" and rec.coins == ["BTC"]
    assert rec.header["created_by"] == "synth"
    assert isinstance(rec.header["synth"], dict), "the synthetic recording's ground truth is a dict"
    records = list(rec)
    assert len(records) > 1000
    r = records[0]
    assert isinstance(r.recv_ns, int) and isinstance(r.stream, str) and isinstance(r.raw, bytes)
    assert all(a.recv_ns <= b.recv_ns for a, b in zip(records, records[1:]))
    table = rec.to_arrow()
    assert table.num_rows == len(records)
    assert table.column("raw")[5].as_py() == records[5].raw
    ev = rec.events()
    assert ev.num_rows > 1000 and {"recv_ns", "type", "coin", "price_f64"} <= set(ev.column_names)


def test_a_missing_recording_is_a_paper_trader_error_naming_it(tmp_path):
    with pytest.raises(pt.PaperTraderError, match="nope"):
        pt.open_recording(tmp_path / "nope")


def test_load_session_equals_the_cli_export(sample, cli, tmp_path):
    s = tmp_path / "s"
    o = run_cli(cli, "replay", sample, "--out", str(s), "--to", "+900s")
    assert o.returncode == 0, o.stderr
    o = run_cli(cli, "export", str(s), "--what", "fills", "--format", "parquet", "--out", str(tmp_path / "f.parquet"))
    assert o.returncode == 0, o.stderr
    ses = pt.load_session(s)
    assert ses.summary == summary(s)
    assert ses.config["strategy"]["kind"] == "glft"
    assert ses.fills.num_rows == ses.summary["fills"] > 0
    assert ses.fills.equals(pq.read_table(tmp_path / "f.parquet"))
    assert set(FILL_COLUMNS) <= set(ses.fills.column_names)
    for t in (ses.orders, ses.markouts, ses.snapshots):
        assert t.num_rows > 0
    assert len(ses.fills.to_pandas()) == ses.fills.num_rows


def test_load_session_of_a_recording_says_what_it_is(sample):
    with pytest.raises(pt.PaperTraderError, match="not a session"):
        pt.load_session(sample)


# --- replay --------------------------------------------------------------------------------------


def test_replay_has_the_cli_digest(sample, cli, tmp_path):
    for sets, py_set in [([], None), (["--set", "fill_sim.fill_prob_base=0.3"], {"fill_sim.fill_prob_base": 0.3})]:
        c, p = tmp_path / f"c{len(sets)}", tmp_path / f"p{len(sets)}"
        o = run_cli(cli, "replay", sample, "--out", str(c), "--to", "+900s", "--seed", "7", *sets)
        assert o.returncode == 0, o.stderr
        ses = pt.replay(sample, p, end="+900s", seed=7, set=py_set)
        assert ses.output_digest == summary(c)["output_digest"], sets
        assert ses.summary["fills"] == summary(c)["fills"]


def test_replay_config_as_dict_or_path(sample, cli, tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[fill_sim]\nfill_prob_base = 0.25\n")
    o = run_cli(cli, "replay", sample, "--out", str(tmp_path / "c"), "--to", "+600s", "--config", str(cfg))
    assert o.returncode == 0, o.stderr
    a = pt.replay(sample, tmp_path / "a", end="+600s", config=cfg)
    b = pt.replay(sample, tmp_path / "b", end="+600s", config={"fill_sim": {"fill_prob_base": 0.25}})
    assert a.output_digest == b.output_digest == summary(tmp_path / "c")["output_digest"]


def test_errors_carry_the_cli_message(sample, cli, tmp_path):
    cases = [
        ([str(tmp_path / "nope")], {"recording": tmp_path / "nope"}),
        ([sample, "--set", "fill_sim.no_such_key=1"], {"set": {"fill_sim.no_such_key": 1}}),
        ([sample, "--set", "fill_sim.fill_prob_base=7"], {"set": {"fill_sim.fill_prob_base": 7}}),
        ([sample, "--from", "+9999999s"], {"start": "+9999999s"}),
    ]
    for i, (args, kw) in enumerate(cases):
        c, p = tmp_path / f"c{i}", tmp_path / f"p{i}"
        o = run_cli(cli, "replay", *args, "--out", str(c))
        assert o.returncode != 0, args
        line = next(ln for ln in o.stderr.splitlines() if ln.startswith("error: "))
        # The sessions are written to different directories; the rest of the message is the same.
        want = line[len("error: "):].replace(str(c), str(p))
        rec = kw.pop("recording", sample)
        with pytest.raises(pt.PaperTraderError) as e:
            pt.replay(rec, p, **kw)
        assert str(e.value) == want, args


def test_the_gil_is_released_while_a_replay_runs(sample, tmp_path):
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        t0 = time.perf_counter()
        pt.replay(sample, tmp_path / "s", end="+1800s")
        t1 = time.perf_counter()
    finally:
        done.set()
        t.join()
    during = [x for x in ticks if t0 < x < t1]
    # A thread that never got the GIL would tick once or twice; sleeping 1 ms it ticks at
    # least a few hundred times a second while the replay runs.
    assert t1 - t0 > 0.05
    assert len(during) > 50 * (t1 - t0), f"{len(during)} ticks in {t1 - t0:.2f} s"


def test_sweep_runs_the_grid_in_parallel_with_the_single_runs_digests(sample, tmp_path):
    res = pt.sweep(sample, tmp_path / "sw", grid={"fill_sim.fill_prob_base": [0.2, 0.4]}, workers=2, end="+600s")
    assert [p for p, _ in res] == [{"fill_sim.fill_prob_base": 0.2}, {"fill_sim.fill_prob_base": 0.4}]
    digests = [s.output_digest for _, s in res]
    assert digests[0] != digests[1]
    one = pt.replay(sample, tmp_path / "one", end="+600s", set={"fill_sim.fill_prob_base": 0.4})
    assert one.output_digest == digests[1]


# --- strategies in Python ------------------------------------------------------------------------


def test_the_python_touch_quoter_is_deterministic_and_equals_its_rust_twin(sample, tmp_path):
    a = pt.replay(sample, tmp_path / "a", strategy=TouchQuoter(), end="+900s")
    b = pt.replay(sample, tmp_path / "b", strategy=TouchQuoter(), end="+900s")
    r = pt.replay(sample, tmp_path / "r", strategy="touch", end="+900s")
    assert a.summary["strategy"] == "python" and r.summary["strategy"] == "touch"
    assert a.summary["fills"] > 0
    assert a.output_digest == b.output_digest == r.output_digest
    assert a.strategy_calls == r.strategy_calls > 0
    assert "python" not in a.config["strategy"] or not a.config["strategy"]["python"]


def test_the_default_configuration_does_not_list_the_binding_kinds(sample, cli, tmp_path):
    # The binding registers `python` and `touch`; a session's configuration must stay the CLI's.
    pt.replay(sample, tmp_path / "p", end="+60s")
    o = run_cli(cli, "replay", sample, "--out", str(tmp_path / "c"), "--to", "+60s")
    assert o.returncode == 0, o.stderr
    with open(tmp_path / "p" / "session.toml") as f, open(tmp_path / "c" / "session.toml") as g:
        assert f.read() == g.read()


def test_resume_with_a_python_strategy_equals_the_full_run(sample, tmp_path):
    end = str(first_ns(sample) + 1200 * 10**9)
    cfg = {"engine": {"checkpoint_interval_s": 300}}
    full = pt.replay(sample, tmp_path / "full", strategy=InventorySkewQuoter(), end=end, config=cfg)
    cks = full.checkpoints()
    assert len(cks) >= 3, cks
    for ck in cks[1:3]:
        out = tmp_path / ("r" + os.path.basename(ck))
        r = pt.replay(sample, out, strategy=InventorySkewQuoter(), end=end, config=cfg, resume=ck)
        assert r.output_digest == full.output_digest, ck
    # A strategy that keeps state only in attributes is checkpointed through its __dict__.
    plain = pt.replay(sample, tmp_path / "plain", strategy=Counting(), end=end, config=cfg)
    r = pt.replay(sample, tmp_path / "plain_r", strategy=Counting(), end=end, config=cfg, resume=plain.checkpoints()[1])
    assert r.output_digest == plain.output_digest


class Counting:
    """Quotes one tick wider every 1000 calls: state that matters, with no state()."""

    def __init__(self):
        self.n = 0

    def quotes(self, view):
        self.n += 1
        k = (self.n // 1000) % 3
        bid = view.round_away(view.best_bid - k * view.tick, "buy")
        ask = view.round_away(view.best_ask + k * view.tick, "sell")
        return [(bid, view.order_size)], [(ask, view.order_size)]


def test_a_python_exception_stops_the_replay_and_is_the_cause(sample, tmp_path):
    class Boom:
        def __init__(self):
            self.n = 0

        def quotes(self, view):
            self.n += 1
            if self.n == 50:
                raise ValueError("boom at call 50")
            return None

    with pytest.raises(pt.PaperTraderError) as e:
        pt.replay(sample, tmp_path / "s", strategy=Boom())
    assert isinstance(e.value.__cause__, ValueError)
    assert "boom at call 50" in str(e.value) and "quotes(view)" in str(e.value)


def test_bad_quotes_are_refused_with_a_clear_error(sample, tmp_path):
    class Bad:
        def quotes(self, view):
            return "nonsense"

    with pytest.raises(pt.PaperTraderError, match="return None, \\(bids, asks\\)") as e:
        pt.replay(sample, tmp_path / "s", strategy=Bad(), end="+60s")
    assert isinstance(e.value.__cause__, TypeError)

    class NoQuotes:
        pass

    with pytest.raises(pt.PaperTraderError, match="has no quotes\\(view\\) method"):
        pt.replay(sample, tmp_path / "t", strategy=NoQuotes(), end="+60s")


def test_the_view_carries_the_book_account_and_models(sample, tmp_path):
    seen = []

    class Look:
        def quotes(self, view):
            if len(seen) < 200:
                seen.append((view.now_ns, view.trigger, view.coin, view.mid, view.best_bid, view.best_ask,
                             view.bids, view.asks, view.models, view.position, view.order_size, view.tick,
                             view.orders, view.recent_trades))
            return TouchQuoter().quotes(view)

    pt.replay(sample, tmp_path / "s", strategy=Look(), end="+120s")
    assert len(seen) == 200
    now, trigger, coin, mid, bb, ba, bids, asks, models, pos, size, tick, orders, trades = seen[-1]
    assert coin == "BTC" and trigger in {"book", "trade", "fill", "deadline"}
    assert bb < mid < ba and bids[0][0] == bb and asks[0][0] == ba and len(bids) <= 10
    assert size > 0 and tick > 0 and "kappa" in models and models["regime"] in {"quiet", "normal", "volatile"}
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:])), "time went backwards"
    assert any(s[12] for s in seen), "the view never showed our own orders"


def test_ctrl_c_stops_a_replay_and_raises_keyboard_interrupt(sample, tmp_path):
    # A real process and a real SIGINT: the replay stops before its next input, the session is
    # finished where it stopped, and the script sees KeyboardInterrupt.
    import signal
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time, paper_trader as pt\n"
        "class Slow:\n"
        "    def quotes(self, view):\n"
        "        time.sleep(0.0005)\n"
        "        return None\n"
        "print('start', flush=True)\n"
        "try:\n"
        "    pt.replay(sys.argv[1], sys.argv[2], strategy=Slow())\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    out = tmp_path / "s"
    p = subprocess.Popen([sys.executable, str(script), sample, str(out)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.5)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=60)
    assert rest.strip() == "interrupted", rest
    assert time.perf_counter() - t0 < 5
    s = summary(out)
    assert 0 < s["input_messages"], "the session was not finished where it stopped"


class Jitter:
    """Quotes 0 to 2 ticks off the touch, drawn from the engine's generator."""

    def quotes(self, view):
        k = int(view.uniform() * 3)
        bid = view.round_away(view.best_bid - k * view.tick, "buy")
        ask = view.round_away(view.best_ask + k * view.tick, "sell")
        return [(bid, view.order_size)], [(ask, view.order_size)]


def test_view_uniform_draws_are_keyed_by_the_seed(sample, tmp_path):
    a = pt.replay(sample, tmp_path / "a", strategy=Jitter(), end="+600s", seed=1)
    b = pt.replay(sample, tmp_path / "b", strategy=Jitter(), end="+600s", seed=1)
    c = pt.replay(sample, tmp_path / "c", strategy=Jitter(), end="+600s", seed=2)
    assert a.output_digest == b.output_digest
    assert a.output_digest != c.output_digest


def test_ctrl_c_stops_every_run_of_a_sweep(sample, tmp_path):
    import signal
    import sys

    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time, paper_trader as pt\n"
        "class Slow:\n"
        "    def quotes(self, view):\n"
        "        time.sleep(0.0005)\n"
        "        return None\n"
        "print('start', flush=True)\n"
        "try:\n"
        "    pt.sweep(sys.argv[1], sys.argv[2], grid={'fill_sim.fill_prob_base': [0.2, 0.3, 0.4]},\n"
        "             workers=2, strategy=Slow())\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    out = tmp_path / "sw"
    p = subprocess.Popen([sys.executable, str(script), sample, str(out)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(1.5)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=60)
    assert rest.strip() == "interrupted", rest
    assert time.perf_counter() - t0 < 5
    assert not (out / "run-002").exists(), "a run not started when Ctrl-C came was started"
