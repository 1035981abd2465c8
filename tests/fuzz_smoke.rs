//! The fuzz targets' smoke run (issue 15), without libFuzzer or nightly:
//! `fuzz/src/lib.rs` (the bodies `cargo +nightly fuzz run` drives) compiled
//! into this test and run over the seed corpus (the committed fixture graphs,
//! and the Keras files of tests/data plus the fixtures converted in process),
//! then over seeded mutations of it for a few seconds per target.
//!
//! `THAW_FUZZ_SMOKE_SECS` sets the mutation time per target (default 1; `.ci/run`
//! gives 8). Mutation `k` of a target comes from seed `k` alone, so a failure
//! names the seed that reproduces it (`THAW_FUZZ_SMOKE_FROM=k` starts there).
//!
//! Each defect the campaigns found is pinned below as a test named after it.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod targets;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Read-held while this process uses HDF5 files (a target, writing seeds),
/// write-held while it starts a child process: libhdf5 opens files without
/// close-on-exec, so a child started while another test thread has an HDF5
/// file open would keep that file's lock for its whole life, and the
/// thread's next open of it would fail ("unable to lock file").
static HDF5_FILES: RwLock<()> = RwLock::new(());

/// Runs `f` with [`HDF5_FILES`] read-held.
fn with_hdf5<T>(f: impl FnOnce() -> T) -> T {
    let _guard = HDF5_FILES.read().unwrap_or_else(|e| e.into_inner());
    f()
}

/// `cmd.output()`, started while no test thread has an HDF5 file open.
fn output(cmd: &mut Command) -> std::process::Output {
    let child = {
        let _guard = HDF5_FILES.write().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    child.wait_with_output().unwrap()
}

fn files(dirs: &[&str], ext: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                let m = p.join(format!("model.{ext}"));
                if m.exists() {
                    v.push(m);
                }
            } else if p.extension().is_some_and(|e| e == ext) {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn graphs() -> Vec<Vec<u8>> {
    files(&["fixtures", "tests/data"], "pb")
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// Seeds of the Keras targets: the files of tests/data with `ext`, and the
/// small fixtures converted and written in that format by thaw itself.
fn keras_seeds(ext: &str) -> Vec<Vec<u8>> {
    let _hdf5 = HDF5_FILES.read().unwrap_or_else(|e| e.into_inner());
    keras_seeds_unlocked(ext)
}

/// [`keras_seeds`] for a caller that holds [`HDF5_FILES`] already.
fn keras_seeds_unlocked(ext: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = files(&["tests/data"], ext)
        .iter()
        // the pinned crash reproducers are not seeds
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fuzz_")
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for pb in files(&["fixtures"], "pb") {
        if std::fs::metadata(&pb).unwrap().len() > 65536 {
            continue;
        }
        let Ok((_, conv)) =
            thaw::verify::load_and_convert(&pb, &thaw::convert::ConvertOptions::default())
        else {
            continue;
        };
        let out = dir.path().join(format!("m.{ext}"));
        let written = match ext {
            "h5" => thaw::keras::h5::write(&out, &conv.model),
            _ => thaw::keras::archive::write(&out, &conv.model),
        };
        if written.is_ok() {
            v.push(std::fs::read(&out).unwrap());
        }
    }
    assert!(v.len() >= 10, "only {} .{ext} seeds", v.len());
    v
}

/// One seeded mutation of a seed: byte changes, a cut, an insertion, a
/// duplicated span, or a splice with another seed.
fn mutate(seeds: &[Vec<u8>], k: u64) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(k);
    let mut b = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..4usize) {
        if b.is_empty() {
            b.push(rng.random());
        }
        let at = rng.random_range(0..b.len());
        match rng.random_range(0..6u8) {
            0 | 1 => b[at] = rng.random(),
            2 => b[at] ^= 1 << rng.random_range(0..8u8),
            3 => b.truncate(at),
            4 => {
                let len = rng.random_range(1..=64usize).min(b.len() - at);
                let span = b[at..at + len].to_vec();
                let to = rng.random_range(0..=b.len());
                b.splice(to..to, span);
            }
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = rng.random_range(0..=other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
        }
    }
    b
}

fn secs() -> f64 {
    std::env::var("THAW_FUZZ_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// Runs `target` on every seed, then on mutations until the time is up;
/// returns how many inputs ran.
fn smoke(name: &str, seeds: &[Vec<u8>], target: fn(&[u8])) -> u64 {
    smoke_for(name, seeds, target, secs())
}

fn smoke_for(name: &str, seeds: &[Vec<u8>], target: fn(&[u8]), secs: f64) -> u64 {
    for (i, s) in seeds.iter().enumerate() {
        if let Err(e) = std::panic::catch_unwind(|| with_hdf5(|| target(s))) {
            panic!("{name}: seed {i} fails: {e:?}");
        }
    }
    let from: u64 = std::env::var("THAW_FUZZ_SMOKE_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let budget = Duration::from_secs_f64(secs);
    let t = Instant::now();
    let mut k = from;
    while t.elapsed() < budget {
        let input = mutate(seeds, k);
        // Saved first: a crash that kills the process (a signal) leaves it.
        let current = std::env::temp_dir().join(format!("thaw-fuzz-{name}-current"));
        let _ = std::fs::write(&current, &input);
        if let Err(e) = std::panic::catch_unwind(|| with_hdf5(|| target(&input))) {
            let file = std::env::temp_dir().join(format!("thaw-fuzz-{name}-{k}"));
            let _ = std::fs::write(&file, &input);
            panic!(
                "{name}: mutation {k} fails ({e:?}); input saved to {} \
                 (THAW_FUZZ_SMOKE_FROM={k} reproduces it)",
                file.display()
            );
        }
        k += 1;
    }
    eprintln!("{name}: {} seeds, {} mutations", seeds.len(), k - from);
    seeds.len() as u64 + (k - from)
}

/// Prefixes each graph with the `load` target's selector byte.
fn with_selector(sel: u8, seeds: &[Vec<u8>]) -> Vec<Vec<u8>> {
    seeds
        .iter()
        .map(|s| std::iter::once(sel).chain(s.iter().copied()).collect())
        .collect()
}

#[test]
fn fuzz_smoke_load() {
    let mut seeds = with_selector(0, &graphs());
    let texts: Vec<Vec<u8>> = files(&["tests/data", "src/convert/testdata"], "pbtxt")
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(!texts.is_empty());
    seeds.extend(with_selector(1, &texts));
    assert!(smoke("load", &seeds, targets::load) > seeds.len() as u64);
}

#[test]
fn fuzz_smoke_convert() {
    smoke("convert", &graphs(), targets::convert);
}

#[test]
fn fuzz_smoke_interp() {
    smoke("interp", &graphs(), targets::interp);
}

/// Set in the child process that runs the keras_h5 target's mutations.
const KERAS_CHILD: &str = "THAW_FUZZ_SMOKE_KERAS_CHILD";

#[test]
fn fuzz_smoke_keras_h5() {
    // In process, seeds only: damaged .h5 files crash libhdf5 itself
    // (SIGSEGV, the whole test process would die), see
    // `fuzz_keras_h5_damaged_file_segfaults_in_libhdf5` below.
    let seeds = keras_seeds("h5");
    if std::env::var_os(KERAS_CHILD).is_none() {
        smoke_for("keras_h5", &seeds, targets::keras_h5, 0.0);
        // The mutations in a process of their own: each is read in a child
        // `thaw __read-keras`, and a fork while another test thread holds an
        // HDF5 file open would hand its lock to that child for a moment.
        test_in_child("fuzz_smoke_keras_h5", KERAS_CHILD, None);
        return;
    }
    // Mutations are read as `thaw verify --keras` reads them, in a child
    // process (src/keras/isolate.rs).
    smoke("keras_h5_child", &seeds, keras_h5_in_child);
}

/// The keras_h5 target with the file read in a child `thaw __read-keras`:
/// a crash, a loop (5 s) or a blow-up of libhdf5 is one of the documented
/// outcomes (exit 2 or 5 in `verify`); a failure of the child itself
/// (a panic: exit 4) fails the test; a model read goes through the target's
/// round-trip property.
fn keras_h5_in_child(data: &[u8]) {
    use thaw::keras::isolate::{ChildError, read_in_child};
    thaw::budget::set_max_memory(targets::BUDGET_BYTES);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.h5");
    std::fs::write(&path, data).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_thaw"));
    match read_in_child(exe, &path, Duration::from_secs(5)) {
        Ok(model) => targets::keras_model(&model),
        Err(e @ ChildError::Failed { .. }) => panic!("{e}"),
        Err(_) => {}
    }
}

#[test]
fn fuzz_smoke_keras_archive() {
    smoke(
        "keras_archive",
        &keras_seeds("keras"),
        targets::keras_archive,
    );
}

/// Seeds of `keras_config`: every `.h5` seed read by thaw, as the target's
/// input (its `model_config` and weight shapes). With `THAW_FUZZ_WRITE_SEEDS`
/// set to a folder, they are also written there (`fuzz/seed.sh` makes the
/// campaign's corpus this way).
fn keras_config_seeds() -> Vec<Vec<u8>> {
    let _hdf5 = HDF5_FILES.read().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.h5");
    let mut seeds = Vec::new();
    for bytes in keras_seeds_unlocked("h5") {
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(model) = thaw::keras::h5::read(&path) {
            seeds.push(targets::keras_config_input(&model));
        }
    }
    assert!(seeds.len() >= 10, "only {} keras_config seeds", seeds.len());
    if let Some(out) = std::env::var_os("THAW_FUZZ_WRITE_SEEDS") {
        std::fs::create_dir_all(&out).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(Path::new(&out).join(format!("seed_{i:03}")), s).unwrap();
        }
    }
    seeds
}

#[test]
fn fuzz_smoke_keras_config() {
    let seeds = keras_config_seeds();
    // Every seed is a model the readers accept and that validates: the
    // property (written twice, read back equal) runs on each.
    for (i, seed) in seeds.iter().enumerate() {
        let model = targets::keras_config_model(seed).unwrap_or_else(|| panic!("seed {i} refused"));
        thaw::keras::config::validate(&model).unwrap_or_else(|e| panic!("seed {i}: {e}"));
    }
    smoke("keras_config", &seeds, targets::keras_config);
}

/// Set in the child process that runs the oracle target's smoke run.
const ORACLE_CHILD: &str = "THAW_FUZZ_SMOKE_ORACLE_CHILD";

/// The address-space limit of that child, in KiB (`ulimit -v`): a graph whose
/// preparation in tract outgrows it fails the test (an allocation failure in
/// the child) instead of being killed by the machine's OOM killer.
const ORACLE_CHILD_KIB: u64 = 6_000_000;

#[test]
fn fuzz_smoke_oracle() {
    // The oracle's preparation is the slow one: the smallest graphs only.
    let seeds: Vec<Vec<u8>> = graphs().into_iter().filter(|g| g.len() <= 32768).collect();
    assert!(seeds.len() >= 5);
    if std::env::var_os(ORACLE_CHILD).is_some() {
        smoke("oracle", &seeds, targets::oracle);
        return;
    }
    // This test again, in a child process under `ulimit -v`: a mutation
    // once grew tract's preparation to 23 GB (fuzz_oracle_oom_23gb below),
    // which would take CI down with it rather than fail.
    let err = test_in_child("fuzz_smoke_oracle", ORACLE_CHILD, Some(ORACLE_CHILD_KIB));
    assert!(
        err.contains("oracle: ") && err.contains(" mutations"),
        "the child ran no smoke run:\n{err}"
    );
}

/// Runs test `name` of this binary again in a child process with `env` set
/// (and under `ulimit -v KIB`), passes its stderr on and returns it; fails
/// when the child does.
fn test_in_child(name: &str, env: &str, kib: Option<u64>) -> String {
    let exe = std::env::current_exe().unwrap();
    let limit = kib.map_or(String::new(), |k| format!("ulimit -v {k} && "));
    let out = output(
        Command::new("sh")
            .arg("-c")
            .arg(format!("{limit}exec \"$0\" \"$@\""))
            .arg(&exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(env, "1"),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{err}");
    assert!(
        out.status.success(),
        "{name} in a child process ({limit}) failed ({}):\n{err}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

/// Runs `thaw` with `args` under `ulimit -v` (KiB): its exit code, stderr
/// and the time it took.
fn thaw_limited(args: &[&str], kib: u64) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = output(
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_thaw"))
            .args(args),
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t.elapsed(),
    )
}

/// Found by the oracle target's 8 s smoke run (`.ci/run`): a mutated graph
/// (tests/data/fuzz_oracle_oom_23gb.bin) whose `Pad` asks for 134,217,729
/// columns of a constant made tract's preparation grow to 23 GB (tract
/// evaluates constants first and weighs them after) until the OOM killer
/// ended it. The oracle now checks every tensor whose shape tract knows
/// against `--max-memory` before tract may fold it (src/oracle/size.rs):
/// exit 2 naming the node, in well under a second, under a 2 GB address
/// space here.
#[test]
fn fuzz_oracle_oom_23gb() {
    let bytes = std::fs::read("tests/data/fuzz_oracle_oom_23gb.bin").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (code, err, took) = thaw_limited(
        &[
            "verify",
            "tests/data/fuzz_oracle_oom_23gb.bin",
            "--samples",
            "1",
            "--out",
            out.path().to_str().unwrap(),
        ],
        2_000_000,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--max-memory"), "{err}");
    // Said once: the CLI's error line printed the oracle's message twice
    // (once in "running the original graph: ...", once as its cause).
    assert_eq!(err.matches("over the memory budget").count(), 1, "{err}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    // The fuzz target itself (16 MiB budget) refuses it too, in process.
    targets::oracle(&bytes);
}

/// Found by the oracle target: a node attribute with no value
/// (`AttrValue { value: None }`, made by harness/clear_attr.py from
/// fixtures/tf1_vgg_style: conv1/Conv2D's `padding`) made tract's attribute
/// reader panic (`value.as_ref().unwrap()`). The oracle now refuses such
/// attributes before tract parses the graph (src/oracle/precheck.rs), and
/// thaw's graph index refuses them at load (exit 2, not "cannot be
/// converted").
#[test]
fn fuzz_oracle_attr_without_value() {
    let bytes = std::fs::read("tests/data/fuzz_oracle_attr_without_value.bin").unwrap();
    targets::oracle(&bytes);
    let e = thaw::oracle::Oracle::from_bytes(
        &bytes,
        "m.pb",
        &[thaw::oracle::OracleInput {
            name: "input".into(),
            shape: vec![1, 16, 16, 3],
        }],
        &["conv1/Conv2D".into()],
    );
    let msg = e.unwrap_err().to_string();
    assert!(
        msg.contains("'conv1/Conv2D'") && msg.contains("'padding' has no value"),
        "{msg}"
    );
    // thaw's own graph index refuses it too, as a damaged graph (exit 2 from
    // every command), before conversion could call it unsupported.
    let def = thaw::graph::parse_graph_def(&bytes, false, "m.pb").unwrap();
    let msg = thaw::graph::Graph::new(def).unwrap_err().to_string();
    assert!(
        msg.contains("'conv1/Conv2D'") && msg.contains("'padding' has no value"),
        "{msg}"
    );
}

/// Found by the first `load` campaign: floats mutated into NaN made the
/// target's round-trip property fail (`NaN != NaN`) although the bytes
/// round-tripped exactly; the property compares NaNs by their bits now. The
/// file does hold NaN floats, so this test would fail again on a plain `==`.
#[test]
fn fuzz_load_nan_round_trip() {
    let bytes = std::fs::read("tests/data/fuzz_load_nan_round_trip.bin").unwrap();
    let def = thaw::graph::parse_graph_def(&bytes[1..], false, "m.pb").unwrap();
    let nan = def.node.iter().flat_map(|n| n.attr.values()).any(|a| {
        matches!(&a.value, Some(thaw::graph::pb::attr_value::Value::Tensor(t))
            if t.float_val.iter().any(|x| x.is_nan()) || t.double_val.iter().any(|x| x.is_nan()))
    });
    assert!(nan, "the pinned graph no longer holds a NaN float");
    targets::load(&bytes);
}

/// Found by the first `convert` campaign: a `Reshape` of a weight constant
/// to dims whose product overflows i64 panicked in constant folding
/// (`attempt to multiply with overflow`, exit 4 from the CLI); products of
/// sizes read from a file are checked now.
#[test]
fn fuzz_convert_reshape_dims_overflow() {
    let bytes = std::fs::read("tests/data/fuzz_convert_reshape_dims_overflow.bin").unwrap();
    with_hdf5(|| {
        targets::convert(&bytes);
        targets::interp(&bytes);
    });
    let out = tempfile::tempdir().unwrap();
    let o = output(
        Command::new(env!("CARGO_BIN_EXE_thaw"))
            .args([
                "convert",
                "tests/data/fuzz_convert_reshape_dims_overflow.bin",
                "-o",
            ])
            .arg(out.path().join("m.h5")),
    );
    assert!(
        matches!(o.status.code(), Some(0 | 2 | 3)),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Found by the first `oracle` campaign: a `Transpose` whose Const `perm`
/// holds 301989889 (in the cone of a loop's trip count) panicked in tract's
/// shape rule, which indexes the input's shape with the perm unchecked; the
/// unroller had asked tract for the trip count before any precheck ran. The
/// oracle now refuses a perm that is no permutation (exit 2) before tract
/// sees any part of the graph.
#[test]
fn fuzz_oracle_transpose_perm_out_of_range() {
    let bytes = std::fs::read("tests/data/fuzz_oracle_transpose_perm_out_of_range.bin").unwrap();
    targets::oracle(&bytes);
    // The graph's input is `seq`, (batch, 5, 3).
    let inputs = [thaw::oracle::OracleInput {
        name: "seq".into(),
        shape: vec![1, 5, 3],
    }];
    let e = thaw::oracle::Oracle::from_bytes(&bytes, "m.pb", &inputs, &[]);
    let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("no permutation of 0.."), "{msg}");
}

/// Found by the oracle smoke run of `.ci/run` (8 s, mutation 5523): a
/// `MaxPool` whose `ksize` list is empty underflowed in tract's data-format
/// shape (`attempt to subtract with overflow`). The precheck refuses window
/// lists without one entry per input axis (exit 2).
#[test]
fn fuzz_oracle_pool_ksize_short() {
    let bytes = std::fs::read("tests/data/fuzz_oracle_pool_ksize_short.bin").unwrap();
    targets::oracle(&bytes);
    let inputs = [thaw::oracle::OracleInput {
        name: "input".into(),
        shape: vec![1, 11, 11, 3],
    }];
    let e = thaw::oracle::Oracle::from_bytes(&bytes, "m.pb", &inputs, &[]);
    let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("'ksize' holds 0 entries"), "{msg}");
}

/// Found by a longer oracle smoke run (20 s, mutation 6627): a `Squeeze`
/// whose `squeeze_dims` is -2199023255555 panicked in tract's shape rule
/// (`assertion failed: index < len`). An axis is only checkable against the
/// input's rank, which the precheck does not know, so every call into tract
/// now runs under `oracle::guard`: a panic there is an error naming the
/// graph (exit 4 from the CLI, "tract stopped with a panic"), not the end of
/// the process.
#[test]
fn fuzz_oracle_squeeze_axis_panics_in_tract() {
    let bytes = std::fs::read("tests/data/fuzz_oracle_squeeze_axis_panics_in_tract.bin").unwrap();
    targets::oracle(&bytes);
    let inputs = [thaw::oracle::OracleInput {
        name: "ids".into(),
        shape: vec![1, 16],
    }];
    let e =
        thaw::oracle::Oracle::from_bytes(&bytes, "m.pb", &inputs, &["conv1/conv1d/Squeeze".into()]);
    let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("tract stopped with a panic"), "{msg}");
}

/// Found by the second `convert` campaign: a placeholder named
/// `unused_control_floe\0input_5` became a layer name HDF5 cannot store,
/// so writing the validated model failed. A NUL byte in a node name is a
/// damaged graph at load now (TensorFlow refuses it too: exit 2), and
/// validation refuses it in a Keras name.
#[test]
fn fuzz_convert_nul_in_node_name() {
    let bytes = std::fs::read("tests/data/fuzz_convert_nul_in_node_name.bin").unwrap();
    with_hdf5(|| targets::convert(&bytes));
    let def = thaw::graph::parse_graph_def(&bytes, false, "m.pb").unwrap();
    let msg = thaw::graph::Graph::new(def).unwrap_err().to_string();
    assert!(msg.contains("NUL byte"), "{msg}");
}

/// Found by the third `oracle` campaign: a mutated tf-keras cross-attention
/// graph whose `Tensordot` `free` axes read `[1, 1]`, so the `Transpose`
/// perm tract computes (a `ConcatV2` of constants) is `[1, 1, 2]`. The
/// precheck sees only Const perms; typing the graph then grew tract's list
/// of axis moves (`perm_to_ops`) past 4 GB in one allocation (an abort, not
/// a panic the guard could catch). The oracle now checks every perm tract
/// computed, after its analysis and before typing: exit 2 naming the node.
#[test]
fn fuzz_oracle_transpose_computed_perm_repeats() {
    let bytes =
        std::fs::read("tests/data/fuzz_oracle_transpose_computed_perm_repeats.bin").unwrap();
    targets::oracle(&bytes);
    let inputs: Vec<thaw::oracle::OracleInput> = [
        ("query", [1, 6, 12]),
        ("key", [1, 10, 5]),
        ("memory", [1, 10, 8]),
    ]
    .into_iter()
    .map(|(name, shape)| thaw::oracle::OracleInput {
        name: name.into(),
        shape: shape.to_vec(),
    })
    .collect();
    let e = thaw::oracle::Oracle::from_bytes(&bytes, "m.pb", &inputs, &["Identity:0".to_string()]);
    let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("model/head/Tensordot/transpose"), "{msg}");
    assert!(
        msg.contains("[1, 1, 2], which is no permutation of 0..3"),
        "{msg}"
    );
}

/// Found by the third `convert` campaign: a Conv2D on an input of 0
/// channels divided by zero computing the group count (exit 4 from the CLI).
#[test]
fn fuzz_convert_conv_zero_channels() {
    let bytes = std::fs::read("tests/data/fuzz_convert_conv_zero_channels.bin").unwrap();
    with_hdf5(|| {
        targets::convert(&bytes);
        targets::interp(&bytes);
    });
}

/// Reads a file a campaign saved (kept for regression tests below).
#[allow(dead_code)]
fn artifact(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Found by the convert target's first smoke run: an `LRN` fallback layer's
/// attributes were emitted in TF's order (depth_radius, bias, alpha, beta)
/// but read back from the `.h5` config in name order, so the model thaw read
/// differed from the one it wrote. Conversion now emits them in name order.
#[test]
fn fuzz_convert_lrn_attrs_round_trip_reordered() {
    let graph = std::fs::read("fixtures/tf1_nn_lrn/model.pb").unwrap();
    with_hdf5(|| targets::convert(&graph));
}

/// Found by the keras_h5 target's first smoke run: a damaged `.h5`
/// (tests/data/fuzz_h5_segv_in_libhdf5.h5, a mutation of a converted
/// fixture) made `thaw verify --keras` die by SIGSEGV inside the HDF5 C
/// library while reading it. The command line now reads the user's file in
/// a child process (src/keras/isolate.rs): its crash is exit 2 naming the
/// file and the signal.
#[test]
fn fuzz_keras_h5_damaged_file_segfaults_in_libhdf5() {
    let out = tempfile::tempdir().unwrap();
    let o = output(
        std::process::Command::new(env!("CARGO_BIN_EXE_thaw")).args([
            "verify",
            "fixtures/tf1_mobilenet_v1_tail/model.pb",
            "--keras",
            "tests/data/fuzz_h5_segv_in_libhdf5.h5",
            "--out",
            out.path().to_str().unwrap(),
        ]),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{:?}: {err}", o.status);
    assert!(
        err.contains("fuzz_h5_segv_in_libhdf5.h5: the HDF5 library crashed reading this file"),
        "{err}"
    );
}

/// `thaw verify --keras FILE` against the handmade model's graph, in a
/// fresh output folder: exit code, stderr, time taken.
fn verify_keras(file: &str, extra: &[&str]) -> (Option<i32>, String, Duration) {
    let out = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let o = output(
        std::process::Command::new(env!("CARGO_BIN_EXE_thaw"))
            .args([
                "verify",
                "fixtures/tf1_mobilenet_v1_tail/model.pb",
                "--samples",
                "1",
                "--keras",
                file,
                "--out",
                out.path().to_str().unwrap(),
            ])
            .args(extra),
    );
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        t.elapsed(),
    )
}

/// Found by mutating the handmade `.h5` files (the keras_h5 target's
/// mutations, run through `thaw verify --keras` under a timeout): a damaged
/// `.h5` (tests/data/fuzz_h5_hang_in_libhdf5.h5) on which libhdf5 loops
/// forever while thaw reads it. The reading child process is killed when
/// `--timeout` runs out: exit 5 naming the stage. (Hang guard: generous.)
#[test]
fn fuzz_keras_h5_damaged_file_loops_in_libhdf5() {
    let (code, err, took) =
        verify_keras("tests/data/fuzz_h5_hang_in_libhdf5.h5", &["--timeout", "2"]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("while reading the --keras file"), "{err}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// Found by the fourth `keras_h5` campaign (`-fork=1`): a string attribute
/// (`weight_names`) whose damaged shape asked the hdf5 crate's `read_raw`
/// for more than `Vec` can hold, a capacity-overflow panic in the reading
/// child (exit 4). Attribute reads are weighed against the budget first:
/// exit 2, and the target itself no longer panics on it.
#[test]
fn fuzz_keras_h5_attribute_size_overflow() {
    let bytes = std::fs::read("tests/data/fuzz_keras_h5_attribute_size_overflow.h5").unwrap();
    with_hdf5(|| targets::keras_h5(&bytes));
    let (code, err, _) = verify_keras("tests/data/fuzz_keras_h5_attribute_size_overflow.h5", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}

/// Found by the same mutations: a weight dataset declaring a shape whose
/// element count is over the budget by more than 4 x usize::MAX / 4 made the
/// budget's own message overflow (`n * 4`, a panic: exit 4). The message now
/// saturates: exit 2, over --max-memory.
#[test]
fn fuzz_keras_h5_dataset_size_overflow() {
    let (code, err, _) = verify_keras("tests/data/fuzz_h5_dataset_size_overflow.h5", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("internal error"), "{err}");
}
