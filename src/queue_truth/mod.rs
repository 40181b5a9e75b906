//! `queue-truth`: a session's own orders scored against the exact queue of its recording.
//!
//! The synthetic venue's order-level mode writes every level as a FIFO of individual orders
//! (`orderLevel:COIN` streams, `docs/FORMAT.md`). Every queue model in use (the flat model,
//! Rigtorp's probabilistic queue) estimates from L2 what that FIFO knows. Here the session's
//! orders, with their real sizes and their lives from the output journal, are replayed
//! against the FIFO without market impact, and the session's fills are compared with the ones
//! the FIFO gives (`docs/QUEUE_TRUTH.md`).
//!
//! Pure: the command (`commands::queue_truth_cmd`) reads the journal and the recording and
//! feeds them in; `stream` parses the order-level messages, `lives` reads each order's life
//! from the journal, `replay` runs the FIFO, `score` compares.

pub mod lives;
pub mod replay;
pub mod score;
pub mod stream;

pub use lives::{session_orders, Lives};
pub use replay::{Replay, ReplayResult, SessionOrder, TrueOutcome};
pub use score::{score, QueueTruthReport};
pub use stream::{ExactEvent, OrderLevelMessage};
