"""Replay the shipped sample from Python, load the fills, plot PnL and markouts to a PNG.

    make python
    .venv/bin/python examples/python/analyse.py [OUT.png] [--session DIR]

Without --session it replays recordings/sample into a fresh temporary session first.
"""

import argparse
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import paper_trader as pt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("png", nargs="?", default="analyse.png", help="where to write the figure (default analyse.png)")
    ap.add_argument("--session", help="an existing session directory instead of a fresh replay")
    ap.add_argument("--recording", default=os.path.join(ROOT, "recordings", "sample"))
    a = ap.parse_args()

    tmp = None
    if a.session:
        ses = pt.load_session(a.session)
    else:
        tmp = tempfile.TemporaryDirectory()
        ses = pt.replay(a.recording, os.path.join(tmp.name, "session"))
    s = ses.summary
    net = s["pnl"]["net"] if "net" in s.get("pnl", {}) else float("nan")
    print(f"session {ses.path}: {s['fills']} fills, net PnL {net:.2f} USD, output_digest {ses.output_digest[:16]}")

    fills = ses.fills.to_pandas()
    snaps = ses.snapshots.to_pandas()
    marks = ses.markouts.to_pandas()

    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(10, 10), constrained_layout=True)
    t0 = snaps["recv_ns"].min() if len(snaps) else 0
    if len(snaps):
        minutes = (snaps["recv_ns"] - t0) / 60e9
        ax1.plot(minutes, snaps["pnl_net"], label="net PnL")
        ax1.plot(minutes, snaps["pnl_realized"], label="realized", alpha=0.7)
        ax1.plot(minutes, -snaps["pnl_fees"], label="-fees", alpha=0.7)
        ax1b = ax1.twinx()
        ax1b.step(minutes, snaps["position_f64"], color="grey", alpha=0.25, lw=0.6, where="post", label="position")
        ax1b.set_ylabel("position (base units)")
    ax1.set_title(f"PnL over the session ({s['fills']} fills, strategy {s.get('strategy')})")
    ax1.set_xlabel("minutes")
    ax1.set_ylabel("USD")
    ax1.legend(loc="upper left")

    if len(fills):
        colors = fills["side"].map({"buy": "tab:green", "sell": "tab:red"})
        ax2.scatter((fills["recv_ns"] - t0) / 60e9, fills["price_f64"], c=colors, s=8)
    ax2.set_title("our fills (green: bought, red: sold)")
    ax2.set_xlabel("minutes")
    ax2.set_ylabel("price")

    resolved = marks[~marks["dropped"]] if len(marks) else marks
    if len(resolved):
        # move_bp: the mid's move since the fill, bp, positive in the fill's favour
        # (docs/SESSION.md); a dropped markout spanned a gap and has none.
        by_h = resolved.groupby("horizon_s")["move_bp"]
        horizons = sorted(resolved["horizon_s"].unique())
        ax3.boxplot([resolved.loc[resolved["horizon_s"] == h, "move_bp"] for h in horizons],
                    tick_labels=[f"{h}s" for h in horizons], showfliers=False)
        ax3.plot(range(1, len(horizons) + 1), by_h.mean().loc[horizons].values, "o-", label="mean")
        ax3.legend()
    ax3.axhline(0, color="grey", lw=0.5)
    ax3.set_title("markouts by horizon (mid move since the fill, bp, positive in our favour)")
    ax3.set_ylabel("bp")

    fig.savefig(a.png, dpi=100)
    print(f"wrote {os.path.abspath(a.png)}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
