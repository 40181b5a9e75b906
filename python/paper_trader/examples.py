"""Strategies written in Python (docs/PYTHON.md, "Strategies in Python").

A strategy is any object with `quotes(view)`, returning None (keep the quotes as they are) or
`(bids, asks)`, each a list of `(price, size)`. The engine keeps latency, the throttle,
post-only, the limits, fills and checkpoints, as for a Rust strategy. Optional:
`state()` / `restore(state)` (picklable; without them the object's `__dict__` is
checkpointed) and `next_deadline()` (ns since the epoch, or None).
"""

from __future__ import annotations


class TouchQuoter:
    """One level a side at the touch, the account's order size.

    The same quotes as the Rust kind `touch`, so both give one `output_digest`
    (python/bench/strategy_overhead.py compares their speed)."""

    def quotes(self, view):
        size = view.order_size
        bid, ask = view.best_bid, view.best_ask
        return ([(bid, size)] if bid is not None else [], [(ask, size)] if ask is not None else [])


class InventorySkewQuoter:
    """One level a side `half_spread_bp` from a center moved against the inventory, a side
    withdrawn past `max_units` order sizes of position; requotes at least every `refresh_ms`.

    Its state (the last call's time) goes into checkpoints through state()/restore()."""

    def __init__(self, half_spread_bp: float = 2.0, skew_bp_per_unit: float = 0.5, max_units: float = 5.0,
                 refresh_ms: int = 1000):
        self.half_spread_bp = half_spread_bp
        self.skew_bp_per_unit = skew_bp_per_unit
        self.max_units = max_units
        self.refresh_ms = refresh_ms
        self.last_ns = None

    def quotes(self, view):
        self.last_ns = view.now_ns
        q = view.inventory
        center_bp = -self.skew_bp_per_unit * q
        bids, asks = [], []
        if q < self.max_units:
            bids.append((view.price_at_depth(max(self.half_spread_bp - center_bp, 0.0), "buy"), view.order_size))
        if q > -self.max_units:
            asks.append((view.price_at_depth(max(self.half_spread_bp + center_bp, 0.0), "sell"), view.order_size))
        return bids, asks

    def next_deadline(self):
        return None if self.last_ns is None else self.last_ns + self.refresh_ms * 1_000_000

    def state(self):
        return {"last_ns": self.last_ns}

    def restore(self, state):
        self.last_ns = state["last_ns"]
