//! Headless Chromium for the report tests: renders a page with its scripts and returns the
//! DOM. Absent Chromium, the tests print a notice and skip (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The DOM of `page` after its scripts ran (virtual time lets its timers finish), opened at
/// `file://...{fragment}`; `None` (with a notice) when Chromium is absent.
pub fn dump_dom(page: &str, fragment: &str) -> Option<String> {
    let Some(browser) = chromium() else {
        eprintln!("skipping: chromium absent (apt-get install chromium to run this test)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.html");
    std::fs::write(&file, page).unwrap();
    let profile = dir.path().join("profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", file.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(dom)
}

/// The values of one attribute over the DOM, in document order.
pub fn attr_values(dom: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    dom.match_indices(&needle)
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

/// Every one of `containers` charts was built by uPlot, has data and zoomed.
pub fn assert_charts_pass(dom: &str, containers: usize) {
    let errors = attr_values(dom, "data-pt-error");
    assert!(errors.is_empty(), "charts failed to build: {errors:?}");
    assert_eq!(dom.matches("class=\"uplot").count(), containers, "every container holds a uPlot chart");
    let ok = attr_values(dom, "data-pt-ok");
    let points = attr_values(dom, "data-pt-points");
    let zoomed = attr_values(dom, "data-pt-zoomed");
    assert_eq!(ok.len(), containers, "the self-test examined every chart");
    assert!(ok.iter().all(|v| v == "1"), "ok {ok:?} points {points:?} zoomed {zoomed:?}");
    assert!(points.iter().all(|p| p.parse::<u64>().unwrap() > 0), "a chart without data: {points:?}");
    assert_eq!(attr_values(dom, "data-pt-selftest"), vec!["pass".to_string()]);
}
