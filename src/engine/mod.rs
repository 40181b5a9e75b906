//! The engine: one pure state machine. `inputs (with their timestamps) -> outputs`.
//! (Being written: see io.rs for the contract of inputs and outputs.)

pub mod io;
