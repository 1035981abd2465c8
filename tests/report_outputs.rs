//! `thaw verify` writes report.html, junit.xml and summary.md next to
//! report.json; the JUnit file parses and holds one test case per layer; the
//! HTML renders in a real browser (headless Chromium, ignored by default: it
//! needs Debian's `chromium` package — see the README's CI section): its
//! chart points and every box of its layer graph get a non-empty layout box.

use assert_cmd::Command;
use std::path::Path;

fn thaw() -> Command {
    Command::cargo_bin("thaw").expect("the thaw binary is built by cargo test")
}

/// Runs `thaw verify` on a fixture into `out` with extra flags; returns the
/// exit code.
fn verify(case: &str, out: &Path, extra: &[&str]) -> Option<i32> {
    thaw()
        .args([
            "verify",
            &format!("fixtures/{case}/model.pb"),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .unwrap()
        .status
        .code()
}

fn report_json(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn verify_writes_junit_with_one_case_per_layer() {
    let out = tempfile::tempdir().unwrap();
    // A tolerance below float32 noise makes some layers fail (verdict fail).
    assert_eq!(
        verify(
            "tf1_vgg_style",
            out.path(),
            &["--atol", "1e-9", "--rtol", "0", "--stol", "0"]
        ),
        Some(1)
    );
    let report = report_json(out.path());
    let layers = report["layers"].as_array().unwrap();
    let failing = layers
        .iter()
        .filter(|l| l["status"] != "pass" || l["isolated"]["status"] != "pass")
        .count();
    assert!(failing > 0);
    let xml = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), layers.len());
    for (c, l) in cases.iter().zip(layers) {
        let name = c.attribute("name").unwrap();
        assert!(name.starts_with(l["name"].as_str().unwrap()), "{name}");
    }
    let failures = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    assert_eq!(failures, failing);
    assert_eq!(
        suite.attribute("failures").unwrap(),
        failing.to_string().as_str()
    );
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("thaw verify: FAIL"), "{summary}");
    // Model Explorer node data: graph "main", node ids (GraphDef indices) as
    // keys, the failing layers' nodes red in one of the two files.
    // (harness/model_explorer_check.py checks the keys against the package.)
    let mut red = 0;
    for name in thaw::report::model_explorer::FILES {
        let text = std::fs::read_to_string(out.path().join(name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let results = v["main"]["results"].as_object().expect("main.results");
        assert!(results.len() >= layers.len(), "{name}: {}", results.len());
        for (k, r) in results {
            assert!(k.parse::<usize>().is_ok(), "{name}: key {k}");
            assert!(r["value"].is_number(), "{name}: {r}");
            red += usize::from(r["bgColor"] == "#ff8182");
        }
    }
    assert!(red > 0);
}

#[test]
fn no_progress_drawn_when_stderr_is_not_a_terminal() {
    let out = tempfile::tempdir().unwrap();
    let o = thaw()
        .args([
            "verify",
            "fixtures/tf1_vgg_style/model.pb",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    // assert_cmd pipes stderr: the spinner must stay hidden, so CI logs get
    // no control sequences.
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Run with `cargo test -- --ignored html_renders_in_headless_chromium`
/// (needs `apt-get install -y chromium`).
#[test]
#[ignore]
fn html_renders_in_headless_chromium() {
    let out = tempfile::tempdir().unwrap();
    assert_eq!(
        verify(
            "tf1_vgg_style",
            out.path(),
            &["--atol", "1e-9", "--rtol", "0", "--stol", "0"]
        ),
        Some(1)
    );
    let html_path = out.path().join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let points = html.matches("<circle class=\"pt ").count();
    assert!(points > 0);
    // the graph view: a box per layer plus the model inputs
    let layers = report_json(out.path())["layers"].as_array().unwrap().len();
    let boxes = html.matches("<g class=\"node ").count();
    assert!(boxes > layers, "{boxes} boxes for {layers} layers");
    let profile = tempfile::tempdir().unwrap();
    let o = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1024",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!(
            "file://{}",
            html_path.canonicalize().unwrap().display()
        ))
        .output()
        .expect("chromium runs (apt-get install -y chromium)");
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The verdict is on the page...
    assert!(
        dom.contains("<h1 id=\"verdict\" class=\"fail\">FAIL</h1>"),
        "{dom}"
    );
    assert!(dom.contains("id=\"first-divergence\""), "{dom}");
    // ...and the browser laid out every chart point with a non-zero box:
    // the page's script counts them after layout.
    assert!(
        dom.contains(&format!("data-chart-drawn=\"{points}\"")),
        "expected {points} drawn points; DOM head: {}",
        &dom[..dom.len().min(400)]
    );
    // ...and every box of the layer graph, the first divergence outlined.
    assert!(
        dom.contains(&format!("data-graph-drawn=\"{boxes}\"")),
        "expected {boxes} drawn graph boxes; DOM head: {}",
        &dom[..dom.len().min(400)]
    );
    assert!(
        dom.contains("first-divergence\" data-layer="),
        "no outlined box"
    );
}
