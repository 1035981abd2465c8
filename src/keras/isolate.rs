//! Reading a user's Keras file (`verify --keras FILE`) in a child process
//! (issue 15).
//!
//! The `.h5` reader runs the HDF5 C library on a file from a stranger, and
//! libhdf5 can die by a signal on a damaged file (SIGSEGV,
//! `tests/data/fuzz_h5_segv_in_libhdf5.h5`) or loop forever. Neither can be
//! caught in-process, so the command line reads the file in a child: it
//! runs its own executable (`std::env::current_exe()`) with the hidden
//! subcommand `__read-keras FILE` ([`CHILD_COMMAND`]), which reads the model
//! with the ordinary reader ([`read_file`]) and writes it to stdout as CBOR
//! (`Result<Model, String>`, weights as raw f32 bits); the parent reads it
//! back ([`read_in_child`]).
//!
//! The child runs under limits: its address space ([`memory_limit`]: 1 GiB,
//! plus 4 times the file's size, plus the memory budget `--max-memory`) and
//! the time budget (`--timeout`, killed on expiry). Its outcome:
//!
//! | child | [`ChildError`] | `thaw verify` exit |
//! |---|---|---|
//! | a model | — | — |
//! | the reader's error | [`ChildError::Refused`] | 2 |
//! | died by a signal | [`ChildError::Crashed`] | 2 (the file is damaged) |
//! | out of its memory limit | [`ChildError::OutOfMemory`] | 2 |
//! | out of time | [`ChildError::Timeout`] | 5 |
//! | panicked, or anything else | [`ChildError::Failed`] | 4 |
//!
//! The child inherits no file descriptor but its standard streams (all
//! others are marked close-on-exec before it starts), so it never holds a
//! lock on an HDF5 file the parent has open; and it dies with its parent
//! (`PR_SET_PDEATHSIG`), so killing thaw never leaves it looping.

use super::{KerasError, Model};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// The hidden subcommand of the `thaw` binary that reads a Keras file.
pub const CHILD_COMMAND: &str = "__read-keras";

/// Reads a `.keras` archive (by extension) or a `.h5` model in this process.
pub fn read_file(path: &Path) -> Result<Model, KerasError> {
    if path.extension().is_some_and(|e| e == "keras") {
        super::archive::read(path)
    } else {
        super::h5::read(path)
    }
}

/// The child's side: reads `path` and writes the outcome to `out` as CBOR
/// (`Result<Model, String>`, the error as its message).
pub fn child_main(path: &Path, out: &mut impl std::io::Write) -> Result<(), String> {
    let result: Result<Model, String> = read_file(path).map_err(|e| e.to_string());
    ciborium::into_writer(&result, &mut *out).map_err(|e| format!("writing the model: {e}"))?;
    out.flush().map_err(|e| format!("writing the model: {e}"))
}

/// How `verify --keras` reads the user's file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Reader {
    /// In this process (the library's default: no executable to run).
    #[default]
    InProcess,
    /// In a child process of this `thaw` executable (the command line's).
    Child(std::path::PathBuf),
}

/// Why the child did not give a model.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The reader refused the file (its message).
    #[error("{0}")]
    Refused(String),
    /// The child died by a signal (libhdf5 crashed).
    #[error(
        "{file}: the HDF5 library crashed reading this file (signal {signal}); the file is damaged"
    )]
    Crashed { file: String, signal: i32 },
    /// The child ran out of its address-space limit.
    #[error(
        "{file}: reading this file needed more than {limit_mib} MiB of memory (the reading \
         process's limit: 1 GiB + 4 x the file's size + --max-memory); the file is damaged or \
         declares huge data"
    )]
    OutOfMemory { file: String, limit_mib: u64 },
    /// The time budget ran out (the child was killed).
    #[error("{file}: reading this file took longer than {seconds} s (--timeout)")]
    Timeout { file: String, seconds: f64 },
    /// The child could not be run, panicked or answered nonsense.
    #[error("{file}: the process reading this file failed: {message}")]
    Failed { file: String, message: String },
}

/// The child's address-space limit for a file of `file_bytes`.
pub fn memory_limit(file_bytes: u64) -> u64 {
    (1u64 << 30)
        .saturating_add(file_bytes.saturating_mul(4))
        .saturating_add(crate::budget::max_memory())
}

/// Reads `path` in a child process of `exe` (the `thaw` binary) within
/// `timeout`; see the module doc.
pub fn read_in_child(exe: &Path, path: &Path, timeout: Duration) -> Result<Model, ChildError> {
    let file = path.display().to_string();
    let failed = |message: String| ChildError::Failed {
        file: file.clone(),
        message,
    };
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let limit = memory_limit(size);
    let mut cmd = Command::new(exe);
    cmd.arg("--max-memory")
        .arg(crate::budget::max_memory().to_string())
        .arg(CHILD_COMMAND)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls setrlimit, prctl
    // and fcntl, which are async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Killed with thaw: a child looping in libhdf5 never outlives it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            for fd in 3..1024 {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", exe.display())))?;
    // Drained while the child runs, so a large model never fills the pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ChildError::Timeout {
                file,
                seconds: timeout.as_secs_f64(),
            });
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!("waiting for it: {e}")));
        }
    };
    let out = stdout.join().unwrap_or_default();
    let err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    // Rust's allocator reports a failed allocation (the address-space limit)
    // on stderr, then aborts.
    if err.contains("memory allocation of") {
        return Err(ChildError::OutOfMemory {
            file,
            limit_mib: limit >> 20,
        });
    }
    if let Some(signal) = status.signal() {
        return Err(ChildError::Crashed { file, signal });
    }
    if !status.success() {
        return Err(failed(format!(
            "{status}: {}",
            err.trim().lines().next().unwrap_or("no message")
        )));
    }
    let result: Result<Model, String> = ciborium::from_reader(out.as_slice())
        .map_err(|e| failed(format!("its answer is unreadable: {e}")))?;
    result.map_err(ChildError::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::test_models::every_layer_model;

    #[test]
    fn the_cbor_answer_keeps_weights_bit_for_bit() {
        let mut m = every_layer_model();
        // A NaN with a payload.
        let w = &mut m
            .layers
            .iter_mut()
            .find(|l| !l.weights.is_empty())
            .unwrap()
            .weights[0];
        let v = w.value.iter_mut().next().unwrap();
        *v = f32::from_bits(0x7fc0_1234);
        let ok: Result<Model, String> = Ok(m.clone());
        let mut bytes = Vec::new();
        ciborium::into_writer(&ok, &mut bytes).unwrap();
        let back: Result<Model, String> = ciborium::from_reader(bytes.as_slice()).unwrap();
        let back = back.unwrap();
        let bits = |m: &Model| -> Vec<u32> {
            m.layers
                .iter()
                .flat_map(|l| {
                    l.weights
                        .iter()
                        .flat_map(|w| w.value.iter().map(|v| v.to_bits()))
                })
                .collect()
        };
        assert_eq!(bits(&back), bits(&m));
        let strip = |m: &Model| {
            let mut m = m.clone();
            for l in &mut m.layers {
                l.weights.clear();
            }
            m
        };
        assert_eq!(strip(&back), strip(&m));
    }
}
