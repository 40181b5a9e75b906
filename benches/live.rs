//! Benchmark: live (being written).
fn main() {}
