//! The synthetic venue: a seeded market with known ground truth, in Hyperliquid's wire format.
//!
//! Pure: no I/O, no clock, no threads; floating point only through `+ - * / sqrt` and `libm`,
//! so the same seed and configuration give the same bytes on every machine.
//!
//! ```
//! use paper_trader::synth::{SynthConfig, SynthVenue};
//! let mut venue = SynthVenue::new(SynthConfig::default(), 42, &["BTC".to_string()]).unwrap();
//! let first = venue.next_message();
//! assert_eq!(first.stream, "trades:BTC"); // the pre-subscription history batch
//! let truth = venue.ground_truth(first.exch_ns + 3_600_000_000_000);
//! assert_eq!(truth.kappa_true, 1.0);
//! ```
//!
//! Code map: `config` (TOML, defaults, validation), `rng` (the generator), `regime` (the
//! volatility regime path), `book` (one side of a book), `coin` (one coin's fair price, book
//! and aggressive orders), `orders` (the exact queue of the order-level mode: each level a
//! FIFO of orders that follows the level book), `wire` (the venue's JSON), `venue` (the event
//! loop), `truth` (the ground truth written into the recording header).

pub mod book;
pub mod coin;
pub mod config;
pub mod funding;
pub mod orders;
pub mod regime;
pub mod rng;
pub mod truth;
pub mod venue;
pub mod wire;

pub use config::{CancelProfile, ConfigError, OrderLevelConfig, Regime, SynthConfig};
pub use truth::GroundTruth;
pub use venue::{CoinStats, SynthMessage, SynthVenue};
