//! Venue adapters: pure functions from raw message bytes to normalized [`event::MarketEvent`]s,
//! and the order book rebuilt from them. No I/O.

pub mod event;
