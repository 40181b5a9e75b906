//! The seed's models: estimator (kappa), pre-fill classifier, regime, margin, position,
//! GLFT strategy; and `simulation/` (fill simulator, outcomes, calibration). Each is a plain
//! state machine fed by the engine; none reads a clock or draws entropy.

pub mod classifier;
pub mod estimator;
pub mod funding;
pub mod margin;
pub mod position;
pub mod regime;
pub mod rng;
pub mod simulation;
pub mod strategy;

pub use classifier::PreFillClassifier;
pub use estimator::{ParameterEstimator, VolatilityEstimator};
pub use margin::MarginTracker;
pub use regime::RegimeDetector;
pub use simulation::{CalibrationController, FillSimulator, FillSimulatorConfig, PendingFillOutcome};
