//! The shipped sample recording (`recordings/sample/`, made by `make sample`) is exactly what
//! the current generator and log writer produce: regenerated here into a temporary directory
//! and compared byte for byte, file by file.

use paper_trader::commands::synth_cmd::write_recording;
use paper_trader::synth::{GroundTruth, SynthConfig};
use std::path::{Path, PathBuf};

/// The `make sample` settings.
const SAMPLE_SEED: u64 = 42;
const SAMPLE_DURATION_NS: u64 = 2 * 3_600_000_000_000;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

#[test]
fn the_sample_is_what_the_generator_makes_today() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    assert!(sample.is_dir(), "recordings/sample is missing: run `make sample`");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    write_recording(SynthConfig::default(), SAMPLE_SEED, &["BTC".to_string()], SAMPLE_DURATION_NS, &out)
        .unwrap();
    let (want, got) = (files(&sample), files(&out));
    let names = |v: &[PathBuf]| v.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&want), names(&got), "the sample's files differ: run `make sample`");
    for (w, g) in want.iter().zip(&got) {
        let (wb, gb) = (std::fs::read(w).unwrap(), std::fs::read(g).unwrap());
        assert!(wb == gb, "{} differs from a fresh generation: run `make sample`", w.display());
    }
}

#[test]
fn the_sample_has_a_volatile_spell() {
    let cfg = SynthConfig::default();
    let truth =
        GroundTruth::compute(&cfg, SAMPLE_SEED, &["BTC".to_string()], cfg.start_ns + SAMPLE_DURATION_NS);
    assert!(truth.volatile_spells >= 1);
    assert!(truth.regime_share.volatile > 0.02, "{:?}", truth.regime_share);
    // The header carries it, and it reads back.
    assert_eq!(GroundTruth::from_toml(&truth.to_toml()).unwrap(), truth);
}

#[test]
fn the_sample_header_holds_the_seed_and_the_ground_truth() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings/sample");
    let reader = paper_trader::log::LogReader::open(&sample).unwrap();
    let h = reader.header();
    assert_eq!(
        (h.venue.as_str(), h.created_by.as_str(), h.seed),
        ("hyperliquid", "synth", Some(SAMPLE_SEED))
    );
    assert_eq!(h.coins, ["BTC"]);
    let truth = GroundTruth::from_toml(h.synth.as_deref().unwrap()).unwrap();
    let cfg = SynthConfig::default();
    let want =
        GroundTruth::compute(&cfg, SAMPLE_SEED, &["BTC".to_string()], cfg.start_ns + SAMPLE_DURATION_NS);
    assert_eq!(truth, want);
    assert_eq!(truth.config, cfg);
}
