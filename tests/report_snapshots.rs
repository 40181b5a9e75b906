//! Snapshot regression suite: the feedback loops' trajectories (fills, markouts, kappa,
//! kappa_confidence, toxicity, calibration progress, cal_gamma, regime) sampled at fixed
//! event-time intervals, pinned as readable insta snapshots under `tests/snapshots/`.
//! A change in a model shows up as a reviewable diff: `cargo insta review`.

mod report_support;

use paper_trader::engine::io::Output;
use paper_trader::report::trajectory;
use paper_trader::types::Timestamp;

/// Samples `outputs` every `interval_s` of event time and compares with the named snapshot.
fn check(name: &str, start: Timestamp, end: Timestamp, interval_s: u64, outputs: &[(Timestamp, Output)]) {
    let rows = trajectory::sample(start, end, interval_s * 1_000_000_000, outputs);
    assert!(!rows.is_empty(), "{name}: no trajectory rows");
    insta::assert_snapshot!(name, trajectory::render(&rows));
}

#[test]
fn hand_built_session_trajectory() {
    // The report tests' reference session: pins the sampler and the table format themselves.
    let sc = report_support::Scenario::default();
    let outputs = report_support::build(&sc);
    check("hand_built", report_support::ts(0), report_support::ts(sc.minutes * 60), 300, &outputs);
}
