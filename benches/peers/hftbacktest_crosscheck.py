#!/usr/bin/env python3
"""Cross-check against a peer (issue 12): hftbacktest 2.4.4 (PyPI) and paper_trader on the same
Binance USD-M BTCUSDT capture with the same quoter:

  one bid at best bid - 1 tick and one ask at best ask + 1 tick, size 0.001, a side withdrawn at
  |position| >= 0.01, requote at most every 100 ms, 10 ms entry and cancel latency, the
  probabilistic queue model with n = 3 (paper_trader: fill_sim.ignore_book_depth = false,
  queue_exponent = 3), maker fee -0.5 bp.

Not run by `make test`. Usage (from the repository root, after `cargo build --release`):

  python3 -m venv ~/.cache/hbt-venv && ~/.cache/hbt-venv/bin/pip install hftbacktest==2.4.4
  ~/.cache/hbt-venv/bin/python benches/peers/hftbacktest_crosscheck.py \
      /work/shared/data/real/binance-usdm_btcusdt_20240808_hftbacktest-collector.gz

Prints both fill counts, volumes and PnL (USD, marked at the last mid, net of fees).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from numba import njit

from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest, GTX, LIMIT
from hftbacktest.data.utils import binancefutures

TICK = 0.1
LOT = 0.001
SIZE = 0.001
MAX_POS = 0.01
LATENCY_NS = 10_000_000
STEP_NS = 100_000_000
MAKER_FEE = -0.00005  # -0.5 bp
TAKER_FEE = 0.0005


@njit
def quoter(hbt):
    asset_no = 0
    mid = np.nan
    while hbt.elapse(STEP_NS) == 0:
        hbt.clear_inactive_orders(asset_no)
        depth = hbt.depth(asset_no)
        bb, ba = depth.best_bid, depth.best_ask
        if not (np.isfinite(bb) and np.isfinite(ba)) or bb >= ba:
            continue
        mid = (bb + ba) / 2.0
        pos = hbt.position(asset_no)
        want_bid = round((bb - TICK) / TICK)
        want_ask = round((ba + TICK) / TICK)
        have_bid = False
        have_ask = False
        orders = hbt.orders(asset_no)
        values = orders.values()
        while values.has_next():
            o = values.get()
            if not o.cancellable:
                if o.side == 1 and o.price_tick == want_bid:
                    have_bid = True
                if o.side == -1 and o.price_tick == want_ask:
                    have_ask = True
                continue
            if o.side == 1:
                if o.price_tick == want_bid and pos < MAX_POS - 1e-12:
                    have_bid = True
                else:
                    hbt.cancel(asset_no, o.order_id, False)
            else:
                if o.price_tick == want_ask and pos > -MAX_POS + 1e-12:
                    have_ask = True
                else:
                    hbt.cancel(asset_no, o.order_id, False)
        if not have_bid and pos < MAX_POS - 1e-12:
            hbt.submit_buy_order(asset_no, want_bid * 2, want_bid * TICK, SIZE, GTX, LIMIT, False)
        if not have_ask and pos > -MAX_POS + 1e-12:
            hbt.submit_sell_order(asset_no, want_ask * 2 + 1, want_ask * TICK, SIZE, GTX, LIMIT, False)
    return mid


def run_hftbacktest(capture, workdir):
    npz = os.path.join(workdir, "btcusdt.npz")
    binancefutures.convert(capture, output_filename=npz, combined_stream=True)
    asset = (
        BacktestAsset()
        .data([npz])
        .linear_asset(1.0)
        .constant_latency(LATENCY_NS, LATENCY_NS)
        .power_prob_queue_model(3.0)
        .no_partial_fill_exchange()
        .trading_value_fee_model(MAKER_FEE, TAKER_FEE)
        .tick_size(TICK)
        .lot_size(LOT)
        .last_trades_capacity(0)
    )
    hbt = HashMapMarketDepthBacktest([asset])
    mid = quoter(hbt)
    sv = hbt.state_values(0)
    pnl = sv.balance + sv.position * mid - sv.fee
    out = {
        "fills": int(sv.num_trades),
        "volume_btc": float(sv.trading_volume),
        "volume_usd": float(sv.trading_value),
        "fees_usd": float(sv.fee),
        "position": float(sv.position),
        "pnl_usd": float(pnl),
    }
    hbt.close()
    return out


def run_ours(capture, workdir, binary):
    out = os.path.join(workdir, "ours")
    sets = [
        "strategy.kind=ladder",
        "strategy.ladder.levels=1",
        "strategy.ladder.offset_ticks=1",
        "strategy.order_size=0.001",
        "strategy.max_position=0.01",
        "strategy.max_order_notional_usd=1000000",
        "strategy.order_notional_usd=100",
        "strategy.requote_min_interval_ms=100",
        "strategy.requote_mid_bp=0",
        "fill_sim.entry_latency_ms=10",
        "fill_sim.cancel_latency_ms=10",
        "fill_sim.ignore_book_depth=false",
        "fill_sim.queue_exponent=3",
        "account.maker_fee_bp=-0.5",
    ]
    args = [binary, "replay", "--format", "hftbacktest", capture, "--out", out]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    s = json.load(open(os.path.join(out, "summary.json")))
    # Volumes from the journal's fills are not in summary.json: count them from the report.
    coin = next(iter(s["coins"].values()))
    pnl = s["pnl"]
    return {
        "fills": s["fills"],
        "position": coin["position"],
        "fees_usd": pnl["fees"],
        "pnl_usd": pnl["realized"] + pnl["unrealized"] - pnl["fees"],
        "max_resting_per_side": s["max_resting_per_side"],
    }


def main():
    capture = sys.argv[1] if len(sys.argv) > 1 else \
        "/work/shared/data/real/binance-usdm_btcusdt_20240808_hftbacktest-collector.gz"
    binary = os.environ.get("PT_BIN", "target/release/paper_trader")
    with tempfile.TemporaryDirectory() as d:
        ours = run_ours(capture, d, binary)
        peer = run_hftbacktest(capture, d)
    print(json.dumps({"paper_trader": ours, "hftbacktest": peer}, indent=2))
    for k in ("fills", "pnl_usd"):
        a, b = ours[k], peer[k]
        rel = abs(a - b) / max(abs(b), 1e-12)
        print(f"{k}: ours {a:.4f} hftbacktest {b:.4f} ({rel:.0%} apart)")


if __name__ == "__main__":
    main()
