//! Fill simulation, fill outcome tracking and calibration (the seed's paths).

pub mod calibration;
pub mod fill_sim;
pub mod latency;
pub mod outcome;

pub use calibration::{CalibrationConfig, CalibrationController};
pub use fill_sim::{FillSimulator, FillSimulatorConfig};
pub use outcome::{OutcomeConfig, OutcomeTracker, PendingFillOutcome};
