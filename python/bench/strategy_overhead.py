"""What a strategy written in Python costs against the same strategy in Rust (`make bench-python`).

Replays the shipped sample three ways, best of N runs each:
  - strategy="touch": the Rust kind (one level a side at the touch);
  - TouchQuoter: the same strategy in Python (paper_trader.examples);
  - a no-op Python strategy (returns None: the call itself, nothing quoted).
Prints replay seconds, inputs/s, strategy calls, the overhead per call in µs against the Rust
run ((python_s - rust_s) / calls: TouchQuoter only, the no-op quotes nothing so its engine does
less), and the µs per call measured around each Python call by the binding (GIL, view, call,
quotes read back); checks that touch and TouchQuoter have one digest.

    .venv/bin/python python/bench/strategy_overhead.py [--runs N] [--end +3600s] [RECORDING]
"""

import argparse
import os
import sys
import tempfile
import time

import paper_trader as pt
from paper_trader.examples import TouchQuoter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Noop:
    def quotes(self, view):
        return None


def best_of(runs, rec, end, strategy, tmp):
    best = None
    for i in range(runs):
        out = os.path.join(tmp, f"{type(strategy).__name__ if not isinstance(strategy, str) else strategy}-{i}")
        t0 = time.perf_counter()
        ses = pt.replay(rec, out, strategy=strategy, end=end)
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            best = (dt, ses)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recording", nargs="?", default=os.path.join(ROOT, "recordings", "sample"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--end", default=None, help="replay up to this time (--to), default: all")
    a = ap.parse_args()
    if not os.path.exists(a.recording):
        print(f"notice: no recording at {a.recording}; nothing to measure")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, strat in [("rust touch", "touch"), ("python TouchQuoter", TouchQuoter()), ("python no-op", Noop())]:
            dt, ses = best_of(a.runs, a.recording, a.end, strat, tmp)
            rows.append((name, dt, ses))
        rust_s = rows[0][1]
        print(f"recording {a.recording}, best of {a.runs} runs each")
        print(f"{'strategy':<20} {'replay s':>9} {'inputs/s':>10} {'calls':>8} {'fills':>6} "
              f"{'µs/call vs rust':>16} {'µs in call':>11}  digest")
        for name, dt, ses in rows:
            inputs = ses.summary["input_messages"]
            calls = ses.strategy_calls
            over = f"{(dt - rust_s) / calls * 1e6:.2f}" if name == "python TouchQuoter" else "-"
            inside = f"{ses.strategy_call_ns / calls / 1e3:.2f}" if name.startswith("python") else "-"
            print(f"{name:<20} {dt:>9.3f} {inputs / dt:>10,.0f} {calls:>8,} {ses.summary['fills']:>6} "
                  f"{over:>16} {inside:>11}  {ses.output_digest[:16]}")
        same = rows[0][2].output_digest == rows[1][2].output_digest
        print(f"touch and TouchQuoter digests equal: {same}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
