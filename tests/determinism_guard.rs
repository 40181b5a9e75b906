//! The pure core never imports I/O, threads, clocks or the driver layers. This test reads the
//! core's sources and fails on any such import, so the invariant in ARCHITECTURE.md cannot rot.

use std::path::{Path, PathBuf};

/// Modules that must stay pure (no I/O, no clock, no threads, no entropy).
const CORE: &[&str] = &[
    "src/types.rs",
    "src/venue",
    "src/engine",
    "src/market_maker",
    "src/strategy",
    "src/synth",
    "src/queue_truth",
];

/// Paths whose appearance in a core file breaks purity.
const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::thread",
    "std::time",
    "std::process",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "std::collections::HashMap",
    "std::collections::HashSet",
    "crossbeam",
    "tungstenite",
    "thread_rng",
    "from_entropy",
    "rand::",
    "crate::drivers",
    "crate::log",
    "crate::report",
    "crate::commands",
    "tracing::",
];

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for e in entries {
            rust_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

#[test]
fn core_modules_import_no_io_threads_or_clocks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for c in CORE {
        rust_files(&root.join(c), &mut files);
    }
    assert!(files.len() > 3, "the core modules were not found under {}", root.display());
    let mut violations = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in FORBIDDEN {
                if code.contains(bad) {
                    violations.push(format!("{}:{}: `{bad}` in `{}`", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the pure core imports I/O, threads or clocks:\n{}",
        violations.join("\n")
    );
}

/// Layers that must not import upward (issue 12): the models own their types and never see
/// the engine's; strategies sit below the engine; the drivers run with settings types that
/// live below them (`src/settings.rs`), never with the command layer's.
const LAYERS: &[(&str, &[&str])] = &[
    ("src/market_maker", &["crate::engine", "crate::strategy"]),
    ("src/strategy", &["crate::engine"]),
    ("src/drivers", &["crate::commands", "crate::cli"]),
    ("src/settings.rs", &["crate::commands", "crate::drivers", "crate::cli"]),
];

fn upward_imports(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(dir), &mut files);
    assert!(!files.is_empty(), "{dir} was not found under {}", root.display());
    let mut v = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in forbidden {
                if code.contains(bad) {
                    v.push(format!("{}:{}: `{bad}` in `{}`", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    v
}

#[test]
fn no_layer_imports_a_layer_above_it() {
    let violations: Vec<String> = LAYERS.iter().flat_map(|(dir, bad)| upward_imports(dir, bad)).collect();
    assert!(violations.is_empty(), "upward imports:\n{}", violations.join("\n"));
}

#[test]
fn the_guard_catches_a_violation() {
    // A guard that cannot fail is a defect: check the matcher on a known-bad line.
    let line = "use std::time::Instant; // ok comment";
    let code = line.split("//").next().unwrap();
    assert!(FORBIDDEN.iter().any(|b| code.contains(b)));
}
