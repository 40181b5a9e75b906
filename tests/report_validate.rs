//! The checklist (`validate`) on hand-built sessions: a healthy one passes every item, and each
//! broken feedback loop fails its item with the seed's root cause and fix.

mod report_support;

use paper_trader::engine::io::Output;
use paper_trader::report::session::Session;
use paper_trader::report::validate::{self, ChecklistItem, ChecklistTracker};
use paper_trader::types::Timestamp;
use report_support::{build, ts, Scenario};

fn run(sc: &Scenario) -> Vec<ChecklistItem> {
    let outputs = build(sc);
    Session::from_outputs(outputs, Some(ts(0)), Some(ts(sc.minutes * 60))).checklist()
}

fn item<'a>(items: &'a [ChecklistItem], name: &str) -> &'a ChecklistItem {
    items.iter().find(|i| i.name == name).unwrap_or_else(|| panic!("no item {name}"))
}

fn failing(items: &[ChecklistItem]) -> Vec<&'static str> {
    items.iter().filter(|i| !i.pass).map(|i| i.name).collect()
}

#[test]
fn healthy_session_passes_every_item() {
    let items = run(&Scenario::default());
    assert_eq!(items.len(), 7);
    assert!(failing(&items).is_empty(), "{}", validate::render_text(&items));
    let fills = item(&items, validate::FILLS_OCCURRING);
    assert!((fills.value - 3.0).abs() < 0.1, "one fill every 20 s = 3/min: {}", fills.value);
    assert_eq!(item(&items, validate::REGIME_UPDATING).value, 2.0);
    assert_eq!(item(&items, validate::CHECKPOINTS).value, 8.0);
    assert!(items.iter().all(|i| i.diagnosis.is_none()));
}

#[test]
fn zero_fills_names_the_queue_model() {
    let items = run(&Scenario { fill_every_s: 0, ..Scenario::default() });
    let f = item(&items, validate::FILLS_OCCURRING);
    assert!(!f.pass);
    let d = f.diagnosis.as_deref().unwrap();
    assert!(d.contains("ignore_book_depth: true") && d.contains("compute_fill_probability()"), "{d}");
    // The loops downstream of fills point back at the fill rate instead of guessing.
    assert!(item(&items, validate::KAPPA_CONFIDENCE_INCREASING)
        .diagnosis
        .as_deref()
        .unwrap()
        .contains("no fills"));
    assert!(!item(&items, validate::AS_OUTCOMES_RECORDED).pass);
}

#[test]
fn no_orders_with_margin_rejects_is_the_margin_bug() {
    let items = run(&Scenario { margin_bug: true, ..Scenario::default() });
    let d = item(&items, validate::FILLS_OCCURRING).diagnosis.clone().unwrap();
    assert!(d.contains("update_state()") && d.contains("margin"), "{d}");
}

#[test]
fn kappa_stuck_at_prior_names_on_own_fill() {
    let items = run(&Scenario { kappa_wired: false, ..Scenario::default() });
    assert_eq!(failing(&items), vec![validate::KAPPA_CONFIDENCE_INCREASING]);
    let d = item(&items, validate::KAPPA_CONFIDENCE_INCREASING).diagnosis.clone().unwrap();
    assert!(d.contains("on_own_fill()") && d.contains("on_simulated_fill()"), "{d}");
}

#[test]
fn outcomes_not_recorded_names_the_pending_fill_outcome_deque() {
    let items = run(&Scenario { outcomes_wired: false, ..Scenario::default() });
    let a = item(&items, validate::AS_OUTCOMES_RECORDED);
    assert!(!a.pass);
    assert_eq!(a.value, 0.0);
    let d = a.diagnosis.as_deref().unwrap();
    assert!(
        d.contains("record_outcome()") && d.contains("PendingFillOutcome") && d.contains("0.500..0.500"),
        "{d}"
    );
}

#[test]
fn calibration_not_fed_names_the_controller() {
    let items = run(&Scenario { calibration_wired: false, ..Scenario::default() });
    assert_eq!(failing(&items), vec![validate::CALIBRATION_PROGRESS]);
    let d = item(&items, validate::CALIBRATION_PROGRESS).diagnosis.clone().unwrap();
    assert!(d.contains("CalibrationController") && d.contains("as_progress"), "{d}");
}

#[test]
fn calm_session_fails_regime_item_and_says_the_market_was_calm() {
    let items = run(&Scenario { regime_flips_min: vec![], ..Scenario::default() });
    assert_eq!(failing(&items), vec![validate::REGIME_UPDATING]);
    let d = item(&items, validate::REGIME_UPDATING).diagnosis.clone().unwrap();
    assert!(d.contains("market was calm") && d.contains("0.90..0.99"), "{d}");
}

#[test]
fn missing_checkpoint_is_named_by_its_slot() {
    let items = run(&Scenario { skip_checkpoints: vec![2], ..Scenario::default() });
    assert_eq!(failing(&items), vec![validate::CHECKPOINTS]);
    let c = item(&items, validate::CHECKPOINTS);
    assert!(c.diagnosis.as_deref().unwrap().contains("+10m"), "{c:?}");
}

#[test]
fn checkpoints_announced_but_not_saved_fail() {
    let sc = Scenario::default();
    let mut t = ChecklistTracker::new(ts(0));
    t.set_checkpoint_files(3);
    for (now, o) in build(&sc) {
        t.on_output(now, &o);
    }
    let items = t.items();
    assert_eq!(failing(&items), vec![validate::CHECKPOINTS]);
}

#[test]
fn pnl_that_disagrees_with_the_fills_breaks_the_identity() {
    let items = run(&Scenario { pnl_error_usd: 0.01, ..Scenario::default() });
    assert_eq!(failing(&items), vec![validate::PNL_TRACKING]);
    // The component check against the fills' average-cost ledger names it first.
    let d = item(&items, validate::PNL_TRACKING).diagnosis.clone().unwrap();
    assert!(d.contains("ledger") || d.contains("identity"), "{d}");
    // A rounding far below the tolerance is not a failure.
    let items = run(&Scenario { pnl_error_usd: 1e-9, ..Scenario::default() });
    assert!(item(&items, validate::PNL_TRACKING).pass);
}

#[test]
fn inactive_market_minutes_are_not_judged() {
    // 5 trades a snapshot = 30 a minute: active. 1 a snapshot = 6 a minute: never active.
    let items = run(&Scenario { market_trades_per_snapshot: 1, ..Scenario::default() });
    let f = item(&items, validate::FILLS_OCCURRING);
    assert!(!f.pass && f.diagnosis.as_deref().unwrap().contains("inactive"), "{f:?}");
}

#[test]
fn only_the_first_30_minutes_count_for_fills() {
    // Fills only after minute 30 (drop every fill before): the window sees none.
    let sc = Scenario::default();
    let outputs: Vec<(Timestamp, Output)> = build(&sc)
        .into_iter()
        .filter(|(t, o)| !(matches!(o, Output::Fill { .. }) && *t < ts(30 * 60)))
        .collect();
    let items = Session::from_outputs(outputs, Some(ts(0)), Some(ts(sc.minutes * 60))).checklist();
    assert!(!item(&items, validate::FILLS_OCCURRING).pass);
}

#[test]
fn tracker_shows_items_as_they_pass_during_a_live_session() {
    let outputs = build(&Scenario::default());
    let mut t = ChecklistTracker::new(ts(0));
    let mut passed_at: std::collections::BTreeMap<&str, u64> = Default::default();
    for (now, o) in &outputs {
        t.on_output(*now, o);
        for i in t.items() {
            if i.pass {
                passed_at.entry(i.name).or_insert(now.since(ts(0)) / 1_000_000_000);
            }
        }
    }
    assert!(t.all_pass());
    // What live prints: each item once, when it first passes.
    let mut t = ChecklistTracker::new(ts(0));
    let mut announced = Vec::new();
    for (now, o) in &outputs {
        t.on_output(*now, o);
        announced.extend(t.newly_passed().into_iter().map(|i| i.name));
    }
    assert_eq!(announced.len(), 7, "{announced:?}");
    assert_eq!(announced.iter().collect::<std::collections::BTreeSet<_>>().len(), 7);
    // Fills pass within the first minutes, kappa_confidence once it rose, regime at minute 12.
    assert!(passed_at[validate::FILLS_OCCURRING] <= 60, "{passed_at:?}");
    assert_eq!(passed_at[validate::REGIME_UPDATING], 12 * 60);
    assert!(passed_at[validate::KAPPA_CONFIDENCE_INCREASING] > 0);
}

#[test]
fn json_shape_has_name_pass_value_diagnosis() {
    let items = run(&Scenario { regime_flips_min: vec![], ..Scenario::default() });
    let v = paper_trader::commands::report_cmds::checklist_json(std::path::Path::new("S"), &items);
    assert_eq!(v["pass"], false);
    let arr = v["items"].as_array().unwrap();
    assert_eq!(arr.len(), 7);
    for i in arr {
        for k in ["name", "pass", "value", "threshold", "detail", "diagnosis"] {
            assert!(i.get(k).is_some(), "{k} missing in {i}");
        }
    }
    assert!(arr.iter().any(|i| i["name"] == "kappa_confidence_increasing"));
}

/// Issue 13. Postmortem: with no fills, validate told the user to set ignore_book_depth: true
/// even when it was on, and on a recording with no trades stream it blamed the queue model.
#[test]
fn zero_fill_advice_fits_the_configuration_and_the_data() {
    let sc = Scenario { fill_every_s: 0, ..Scenario::default() };
    let mut session = Session::from_outputs(build(&sc), Some(ts(0)), Some(ts(sc.minutes * 60)));
    session.config = Some("[config.fill_sim]\nignore_book_depth = true\n".parse().unwrap());
    let items = session.checklist();
    let d = item(&items, validate::FILLS_OCCURRING).diagnosis.clone().unwrap();
    assert!(d.contains("already on") && !d.contains("set ignore_book_depth"), "{d}");

    let no_trades = Scenario { fill_every_s: 0, market_trades_per_snapshot: 0, ..Scenario::default() };
    let items = run(&no_trades);
    let d = item(&items, validate::FILLS_OCCURRING).diagnosis.clone().unwrap();
    assert!(d.contains("no trades stream") && !d.contains("ignore_book_depth"), "{d}");
}
