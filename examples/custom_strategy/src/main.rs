//! `custom_strategy`: every command of `paper_trader`, plus a strategy of our own, kind
//! `example`, configured by `[strategy.example]`:
//!
//! ```text
//! custom_strategy replay recordings/sample --set strategy.kind=example --out /tmp/ex
//! custom_strategy replay recordings/sample --set strategy.kind=example \
//!     --set strategy.example.lean=0.5 --out /tmp/ex2
//! ```
//!
//! The strategy leans on the microprice: it quotes one bid and one ask `half_spread_bp` around
//! a center that sits `lean` of the way from the mid to a smoothed microprice, shifted
//! against inventory. The smoothing is state, saved into checkpoints. See docs/STRATEGY.md.

mod example;

fn main() -> std::process::ExitCode {
    let mut registry = paper_trader::strategy::Registry::builtin();
    if let Err(e) = registry.register(Box::new(example::ExampleFactory)) {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    paper_trader::cli::main_with(registry)
}
