//! Benchmark: log (being written).
fn main() {}
