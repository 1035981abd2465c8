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
use std::time::{Duration, Instant};

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
        if let Err(e) = std::panic::catch_unwind(|| target(s)) {
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
        if let Err(e) = std::panic::catch_unwind(|| target(&input)) {
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

#[test]
fn fuzz_smoke_keras_h5() {
    // Seeds only, no mutations: damaged .h5 files crash libhdf5 itself
    // (SIGSEGV, the whole test process dies), see
    // `fuzz_keras_h5_damaged_file_segfaults_in_libhdf5` below. Open defect.
    smoke_for("keras_h5", &keras_seeds("h5"), targets::keras_h5, 0.0);
}

#[test]
fn fuzz_smoke_keras_archive() {
    smoke(
        "keras_archive",
        &keras_seeds("keras"),
        targets::keras_archive,
    );
}

#[test]
fn fuzz_smoke_oracle() {
    // The oracle's preparation is the slow one: the smallest graphs only.
    let seeds: Vec<Vec<u8>> = graphs().into_iter().filter(|g| g.len() <= 32768).collect();
    assert!(seeds.len() >= 5);
    // Seeds only, no mutations: an 8 s smoke run found a mutated graph whose
    // preparation in tract grows to 23 GB (killed by the OOM killer; the size
    // budget does not reach inside tract). Open defect, input kept as
    // tests/data/fuzz_oracle_oom_23gb.bin (not .pb, so it is no seed); with mutations on, how far a
    // time-bounded run gets (and so whether it meets that input) depends on
    // the machine's speed.
    smoke_for("oracle", &seeds, targets::oracle, 0.0);
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
    targets::convert(&graph);
}

/// Found by the keras_h5 target's first smoke run (open, not fixed): a
/// damaged `.h5` (tests/data/fuzz_h5_segv_in_libhdf5.h5, a mutation of a
/// converted fixture) makes `thaw verify --keras` die by SIGSEGV inside the
/// HDF5 C library while reading it, instead of exit 2. Ignored until reading
/// user `.h5` files is isolated from the process (e.g. a child process).
#[test]
#[ignore = "open defect: libhdf5 segfaults on this damaged file"]
fn fuzz_keras_h5_damaged_file_segfaults_in_libhdf5() {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args([
            "verify",
            "fixtures/tf1_mobilenet_v1_tail/model.pb",
            "--keras",
            "tests/data/fuzz_h5_segv_in_libhdf5.h5",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", o.status);
}
