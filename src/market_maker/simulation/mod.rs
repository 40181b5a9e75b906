//! Fill simulation, fill outcome tracking and calibration (the seed's paths).
