//! Benchmark: venue (being written).
fn main() {}
