//! The size budget: one checked element count for every place where a shape
//! read from a user's file (a graph's Const or Placeholder, a `--input` flag,
//! a Keras `.h5` dataset, a layer's output) becomes an allocation.
//!
//! The limit is a process-wide memory budget in bytes (`thaw --max-memory`,
//! default [`DEFAULT_MAX_MEMORY`]); one tensor may hold at most that many
//! bytes, counted as 4-byte elements (thaw computes in f32). Overflowing
//! products are refused the same way. An exceeded budget is a user-input
//! error (exit 2) whose message names the thing and the flag to raise.
//!
//! This is a leaf module: it imports nothing from thaw, so every part
//! (graph, keras, interp, oracle, verify) may use it without breaking the
//! import rules of ARCHITECTURE.md.
//!
//! Not yet: the budget bounds each tensor, not the sum of all live tensors
//! (the pipeline keeps every layer's output of both sides; a model whose
//! layers are each under the budget may still use several times it).

use std::sync::atomic::{AtomicU64, Ordering};

/// Default memory budget: 4 GiB per tensor.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

static MAX_MEMORY: AtomicU64 = AtomicU64::new(DEFAULT_MAX_MEMORY);

/// Bytes per element counted against the budget (f32).
const ELEMENT_BYTES: u64 = 4;

/// Sets the process-wide budget (bytes).
pub fn set_max_memory(bytes: u64) {
    MAX_MEMORY.store(bytes.max(ELEMENT_BYTES), Ordering::Relaxed);
}

/// The process-wide budget (bytes).
pub fn max_memory() -> u64 {
    MAX_MEMORY.load(Ordering::Relaxed)
}

/// The product of sizes read from a file, `None` when it overflows (a
/// plain `.product()` panics there in debug builds; found by fuzzing).
pub fn product(dims: impl IntoIterator<Item = usize>) -> Option<usize> {
    dims.into_iter().try_fold(1usize, |a, d| a.checked_mul(d))
}

/// [`product`] of sizes that may be unknown: `None` when one is, or on overflow.
pub fn product_known(dims: impl IntoIterator<Item = Option<usize>>) -> Option<usize> {
    dims.into_iter().try_fold(1usize, |a, d| a.checked_mul(d?))
}

/// The most elements one tensor may hold.
pub fn max_elements() -> usize {
    usize::try_from(max_memory() / ELEMENT_BYTES).unwrap_or(usize::MAX)
}

/// The element count of `shape`, or a message saying why it is refused
/// (overflow, or over the budget). Callers prefix what the shape belongs to.
pub fn elements(shape: &[usize]) -> Result<usize, String> {
    let n = product(shape.iter().copied())
        .ok_or_else(|| format!("shape {shape:?} has more elements than a machine can count"))?;
    let max = max_elements();
    if n > max {
        return Err(format!(
            "shape {shape:?} holds {n} elements ({}), over the memory budget of {} (raise it with --max-memory)",
            human((n as u64).saturating_mul(ELEMENT_BYTES)),
            human(max_memory())
        ));
    }
    Ok(n)
}

/// The bytes a tensor of `shape` with `elem_bytes`-byte elements holds, or
/// a message saying why it is refused (overflow, or over the budget): for
/// tensors whose element type is known (tract's, inside the oracle), where
/// [`elements`] counts 4-byte elements.
pub fn bytes(shape: &[usize], elem_bytes: usize) -> Result<u64, String> {
    let n = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let b = n
        .and_then(|n| n.checked_mul(elem_bytes as u64))
        .ok_or_else(|| format!("shape {shape:?} has more elements than a machine can count"))?;
    if b > max_memory() {
        return Err(format!(
            "shape {shape:?} ({} elements of {elem_bytes} byte(s), {}), over the memory budget \
             of {} (raise it with --max-memory)",
            n.unwrap_or(0),
            human(b),
            human(max_memory())
        ));
    }
    Ok(b)
}

/// Like [`elements`] for dimensions still in a file's signed form (negative
/// ones are refused).
pub fn elements_i64(dims: &[i64]) -> Result<usize, String> {
    let shape = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d} in {dims:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    elements(&shape)
}

/// Parses a `--max-memory` value: bytes, or with a suffix K, M, G, T (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("'{s}': unknown size suffix (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 4G, 512M, 1000000)"))?;
    n.checked_mul(mult)
        .filter(|&b| b >= 1 << 20)
        .ok_or_else(|| format!("'{s}': the budget must be between 1M and 16E bytes"))
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// Hands memory freed by a stage back to the system. glibc's malloc keeps
/// freed blocks in its per-thread arenas for reuse, so what the oracle's
/// worker frees (tract's decoded GraphDef, the kernels it packed) stays in
/// the process while the next stages allocate elsewhere. `verify` calls it
/// after the oracle's preparation, after the `.h5` write, after the
/// interpreter's run, after both runs and at its end, the oracle's constant
/// folding before and after each folded chain (ResNet50, batch 1, 4 samples:
/// peak RSS about 550 -> 425 MiB, a few ms per call; the write and
/// interpreter calls took it from ~444 to ~424 MiB in the same bench rounds).
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives back pages of free blocks of the
    // allocator's own heaps; it reads or moves no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_refuses_overflow_and_over_budget() {
        assert_eq!(elements(&[2, 3, 4]), Ok(24));
        assert_eq!(elements(&[]), Ok(1));
        assert!(elements(&[1 << 40, 1 << 40]).unwrap_err().contains("count"));
        let e = elements(&[1, 1_000_000, 1_000_000, 3]).unwrap_err();
        assert!(e.contains("--max-memory"), "{e}");
        assert!(elements_i64(&[2, -3]).unwrap_err().contains("-3"));
        assert_eq!(bytes(&[2, 3], 8), Ok(48));
        assert!(bytes(&[1 << 40, 1 << 40], 1).unwrap_err().contains("count"));
        let e = bytes(&[1, 134217729, 6, 8], 4).unwrap_err();
        assert!(
            e.contains("[1, 134217729, 6, 8]") && e.contains("--max-memory"),
            "{e}"
        );
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_bytes("4G"), Ok(4 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("2000000"), Ok(2_000_000));
        assert!(parse_bytes("12").is_err());
        assert!(parse_bytes("4X").is_err());
        assert!(parse_bytes("lots").is_err());
    }
}
