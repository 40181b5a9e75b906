//! The seed's models: estimator (kappa), pre-fill classifier, regime, margin, position,
//! GLFT strategy; and `simulation/` (fill simulator, outcomes, calibration).

pub mod simulation;
