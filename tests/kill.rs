//! Kill-safety (issue 15): SIGKILL `thaw verify` and `thaw convert` at
//! moments spread over a whole run, and check that every output under its
//! final name is complete. Outputs are deterministic (tests/determinism.rs),
//! so "complete" is strict: a final-named file must be byte-identical to the
//! one an uninterrupted run writes (`timings.json` aside: it must parse), and
//! the model files must also load back with thaw's readers.
//!
//! The graph is made here: a chain of 512-wide Dense layers (12 MB of
//! weights), so that writing the `.h5`, deflating the `.keras` and running
//! both sides take long enough for kills to land inside each stage.

use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use thaw::graph::pb;

const WIDTH: usize = 512;
const DEPTH: usize = 12;
/// Kills per command, at `i / KILLS` of an uninterrupted run's duration.
const KILLS: usize = 14;

/// `x -> (MatMul, BiasAdd, Relu) x DEPTH` with seeded weights.
fn wide_dense_chain() -> Vec<u8> {
    let mut text = format!(
        "node {{ name: \"x\" op: \"Placeholder\" attr {{ key: \"dtype\" value {{ type: DT_FLOAT }} }} \
         attr {{ key: \"shape\" value {{ shape {{ dim {{ size: -1 }} dim {{ size: {WIDTH} }} }} }} }} }}\n"
    );
    let mut prev = "x".to_string();
    for i in 0..DEPTH {
        let t = "attr { key: \"T\" value { type: DT_FLOAT } }";
        let c = "attr { key: \"dtype\" value { type: DT_FLOAT } }";
        text += &format!(
            "node {{ name: \"d{i}/w\" op: \"Const\" {c} }}\n\
             node {{ name: \"d{i}/b\" op: \"Const\" {c} }}\n\
             node {{ name: \"d{i}/MatMul\" op: \"MatMul\" input: \"{prev}\" input: \"d{i}/w\" {t} \
              attr {{ key: \"transpose_a\" value {{ b: false }} }} attr {{ key: \"transpose_b\" value {{ b: false }} }} }}\n\
             node {{ name: \"d{i}/BiasAdd\" op: \"BiasAdd\" input: \"d{i}/MatMul\" input: \"d{i}/b\" {t} }}\n\
             node {{ name: \"d{i}/Relu\" op: \"Relu\" input: \"d{i}/BiasAdd\" {t} }}\n"
        );
        prev = format!("d{i}/Relu");
    }
    let mut def = thaw::graph::parse_graph_def(text.as_bytes(), true, "chain.pbtxt").unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: deterministic weights in [-1, 1) / sqrt(WIDTH)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let u = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * u - 1.0) / (WIDTH as f32).sqrt()
    };
    for n in def.node.iter_mut().filter(|n| n.op == "Const") {
        let dims: Vec<usize> = if n.name.ends_with("/w") {
            vec![WIDTH, WIDTH]
        } else {
            vec![WIDTH]
        };
        let count: usize = dims.iter().product();
        let content: Vec<u8> = (0..count).flat_map(|_| next().to_le_bytes()).collect();
        let tensor = pb::TensorProto {
            dtype: pb::DataType::DtFloat as i32,
            tensor_shape: Some(pb::TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|&d| pb::tensor_shape_proto::Dim {
                        size: d as i64,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            tensor_content: content.into(),
            ..Default::default()
        };
        n.attr.insert(
            "value".into(),
            pb::AttrValue {
                value: Some(pb::attr_value::Value::Tensor(tensor)),
            },
        );
    }
    def.encode_to_vec()
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    rd.flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Runs thaw in `cwd` to the end; returns how long it took.
fn full_run(cwd: &Path, args: &[String]) -> Duration {
    std::fs::create_dir_all(cwd).unwrap();
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "thaw {args:?}:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    t.elapsed()
}

/// Starts thaw in `cwd`, SIGKILLs it after `delay` (unless it ended
/// first); returns whether it was still running when killed.
fn killed_after(cwd: &Path, args: &[String], delay: Duration) -> bool {
    std::fs::create_dir_all(cwd).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    if running {
        child.kill().unwrap(); // SIGKILL on Unix: no handler, no cleanup
    }
    child.wait().unwrap();
    running
}

/// Checks every final-named file of a killed run's `dir` against the
/// complete run's `full`; returns the final names present.
fn check_outputs(dir: &Path, full: &BTreeMap<String, Vec<u8>>, what: &str) -> Vec<String> {
    let got = snapshot(dir);
    let mut present = Vec::new();
    for (name, bytes) in &got {
        if name.starts_with('.') {
            continue; // a temporary left by the kill: never a final name
        }
        present.push(name.clone());
        let path = dir.join(name);
        if name == "timings.json" {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .unwrap_or_else(|e| panic!("{what}: {name} is not complete JSON: {e}"));
            continue;
        }
        let want = full
            .get(name)
            .unwrap_or_else(|| panic!("{what}: {name} is not a file a complete run writes"));
        assert!(
            bytes == want,
            "{what}: {name} is partial or different ({} bytes, a complete run writes {})",
            bytes.len(),
            want.len()
        );
        if name.ends_with(".h5") {
            thaw::keras::h5::read(&path).unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
        } else if name.ends_with(".keras") {
            thaw::keras::archive::read(&path).unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
        } else if name.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
        } else if name.ends_with(".xml") {
            roxmltree::Document::parse(std::str::from_utf8(bytes).unwrap())
                .unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
        }
    }
    present
}

/// Kills thaw `args` at spread-out moments, each run in a fresh working
/// folder writing into its `out/` (relative paths, so the reports, which name
/// their files, are the same bytes in every folder), and checks what is left;
/// `finals` are the files a complete run must write.
fn kill_at_spread_moments(tmp: &Path, label: &str, args: &[String], finals: &[&str]) {
    let full_dir = tmp.join(format!("{label}-full"));
    let took = full_run(&full_dir, args);
    let full = snapshot(&full_dir.join("out"));
    for f in finals {
        assert!(
            full.contains_key(*f),
            "{label}: a complete run wrote no {f}"
        );
    }
    let (mut running, mut partial, mut empty) = (0, 0, 0);
    for i in 0..KILLS {
        let dir = tmp.join(format!("{label}-{i}"));
        let delay = took.mul_f64(i as f64 / KILLS as f64);
        let what = format!("{label} killed after {delay:?} (complete run: {took:?})");
        if killed_after(&dir, args, delay) {
            running += 1;
        }
        let present = check_outputs(&dir.join("out"), &full, &what);
        let finals_present = finals
            .iter()
            .filter(|f| present.iter().any(|p| p == *f))
            .count();
        if finals_present == 0 {
            empty += 1;
        } else if finals_present < finals.len() {
            partial += 1;
        }
    }
    eprintln!(
        "{label}: complete run {took:?}; {running} of {KILLS} kills hit a running process, \
         {empty} left no final file, {partial} some"
    );
    // The kills must have landed inside runs, not only after them (a loaded
    // machine makes a run's length vary: a third is asked for, not all).
    assert!(
        running >= KILLS / 3,
        "{label}: only {running} kills hit a running thaw"
    );
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let graph = tmp.path().join("chain.pb");
    std::fs::write(&graph, wide_dense_chain()).unwrap();
    (tmp, graph)
}

#[test]
fn sigkill_during_verify_leaves_no_partial_output() {
    let (tmp, graph) = setup();
    let g = graph.display().to_string();
    kill_at_spread_moments(
        tmp.path(),
        "verify",
        &[
            "verify",
            &g,
            "--samples",
            "8",
            "--formats",
            "h5,keras,py",
            "--out",
            "out",
        ]
        .map(String::from),
        &[
            "chain.h5",
            "chain.keras",
            "chain.py",
            "report.json",
            "junit.xml",
            "summary.md",
            "report.html",
            "timings.json",
        ],
    );
}

#[test]
fn sigkill_during_convert_leaves_no_partial_output() {
    let (tmp, graph) = setup();
    let g = graph.display().to_string();
    for ext in ["h5", "keras", "py"] {
        kill_at_spread_moments(
            tmp.path(),
            &format!("convert-{ext}"),
            &["convert", &g, "-o", &format!("out/m.{ext}")].map(String::from),
            &[&format!("m.{ext}")],
        );
    }
}
