//! `--timeout`: the time budget of preparing and running the original graph.
//! Not a timed test: a budget far below what any graph takes to prepare must
//! end the run with the documented message and exit code 5, and nothing
//! compared (no report).

use std::path::Path;
use std::process::Command;

#[test]
fn a_tiny_time_budget_ends_the_run_with_its_message_and_exit_5() {
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(["verify", "fixtures/k3_transformer_block_b2/model.pb"])
        .args(["--timeout", "0.000001", "--out"])
        .arg(out.path())
        .output()
        .expect("run thaw");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("time budget of") && stderr.contains("--timeout"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the original graph"),
        "names the stage: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");
    assert!(!Path::new(&out.path().join("report.json")).exists());
}

#[test]
fn a_timeout_that_is_not_a_positive_number_is_a_usage_error() {
    for bad in ["0", "-1", "soon", "NaN"] {
        let run = Command::new(env!("CARGO_BIN_EXE_thaw"))
            .args([
                "verify",
                "fixtures/k3_transformer_block_b2/model.pb",
                "--timeout",
                bad,
            ])
            .output()
            .expect("run thaw");
        assert_eq!(run.status.code(), Some(2), "--timeout {bad}");
    }
}

#[test]
fn a_fixed_batch_graph_runs_at_its_batch_and_refuses_samples_it_does_not_divide() {
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            "fixtures/k3_transformer_block_b2/model.pb",
            "--samples",
            "6",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run thaw");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["graph_batch"], 2);
    assert_eq!(report["samples"], 6);
    let run = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            "fixtures/k3_transformer_block_b2/model.pb",
            "--samples",
            "3",
            "--out",
        ])
        .arg(out.path().join("odd"))
        .output()
        .expect("run thaw");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--samples 3") && stderr.contains("fixed batch of 2"),
        "{stderr}"
    );
    // An --input that contradicts the graph's fixed batch: one clear message.
    let run = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            "fixtures/k3_transformer_block_b2/model.pb",
            "--input",
        ])
        .arg(input_spec("fixtures/k3_transformer_block_b2/meta.json", 4))
        .arg("--out")
        .arg(out.path().join("contradiction"))
        .output()
        .expect("run thaw");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("graph fixes it to 2"), "{stderr}");
}

/// `NAME:batch,D1,...` for the fixture's first input, with another batch.
fn input_spec(meta: &str, batch: usize) -> String {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(meta).unwrap()).unwrap();
    let input = &meta["inputs"][0];
    let dims: Vec<String> = input["shape"].as_array().unwrap()[1..]
        .iter()
        .map(|d| d.to_string())
        .collect();
    format!(
        "{}:{batch},{}",
        input["name"].as_str().unwrap(),
        dims.join(",")
    )
}
