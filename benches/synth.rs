//! Benchmark: synth (being written).
fn main() {}
