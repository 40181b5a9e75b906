//! `docs/CONFIG.md` is generated from the documented-keys table (`src/engine/keys.rs`); this
//! test fails when the file is stale. Regenerate with
//! `PT_UPDATE_DOCS=1 cargo test --release --test config_docs`.

use paper_trader::engine::keys;
use std::path::Path;

#[test]
fn config_md_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/CONFIG.md");
    let want = keys::config_markdown();
    if std::env::var_os("PT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/CONFIG.md is stale: regenerate it with `PT_UPDATE_DOCS=1 cargo test --release --test config_docs`"
    );
    // Every key appears in it with its default.
    for (key, _) in keys::flatten(&paper_trader::engine::EngineConfig::default()) {
        let name = key.rsplit_once('.').map_or(key.as_str(), |(_, n)| n);
        assert!(have.contains(&format!("| `{name}` |")), "{key} missing from docs/CONFIG.md");
    }
}
