//! Benchmark: engine (being written).
fn main() {}
