//! `make test` builds the example strategy's binary and replays the shipped sample through it:
//! the user kind runs, is deterministic, resumes from a checkpoint to the full run's digest,
//! and its settings are validated with the same clear errors as the built-ins'.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_custom_strategy");

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recordings/sample")
}

fn replay(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("replay")
        .arg(sample())
        .args(["--set", "strategy.kind=example", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("running custom_strategy")
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_example_kind_replays_the_sample_deterministically_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, r) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("r"));
    for d in [&a, &b] {
        let o = replay(d, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa["strategy"], "example");
    assert_eq!(sa["output_digest"], sb["output_digest"], "two replays of the example differ");
    assert!(sa["fills"].as_u64().unwrap() > 0, "the example strategy got no fills on the sample");
    let mut cks: Vec<PathBuf> =
        std::fs::read_dir(a.join("checkpoints")).unwrap().map(|e| e.unwrap().path()).collect();
    cks.sort();
    assert!(cks.len() >= 2, "the sample session wrote {} checkpoints", cks.len());
    let o = replay(&r, &["--resume", cks[1].to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(summary(&r)["output_digest"], sa["output_digest"], "the resumed run ends elsewhere");
    let toml = std::fs::read_to_string(a.join("session.toml")).unwrap();
    assert!(
        toml.contains("[config.strategy.example]"),
        "the resolved configuration lacks the example's table"
    );
}

#[test]
fn the_example_settings_are_validated_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    let o = replay(&tmp.path().join("x"), &["--set", "strategy.example.half_spread_bp=-1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("strategy.example.half_spread_bp"), "{err}");
    let o = replay(&tmp.path().join("y"), &["--set", "strategy.example.no_such_key=1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("strategy.example.no_such_key"), "{err}");
    // A checkpoint of the example refuses to resume as another kind.
    let a = tmp.path().join("a");
    assert!(replay(&a, &[]).status.success());
    let ck = std::fs::read_dir(a.join("checkpoints")).unwrap().next().unwrap().unwrap().path();
    let o = Command::new(BIN)
        .arg("replay")
        .arg(sample())
        .args(["--set", "strategy.kind=glft", "--resume"])
        .arg(&ck)
        .arg("--out")
        .arg(tmp.path().join("z"))
        .output()
        .unwrap();
    assert!(!o.status.success(), "a checkpoint of kind example resumed as glft");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("'example'") && err.contains("'glft'"), "{err}");
}
