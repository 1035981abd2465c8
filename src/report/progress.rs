//! A progress indicator on the terminal for long runs (`thaw verify` on a
//! real architecture takes seconds to minutes): an indicatif spinner on
//! stderr with the elapsed time and the current stage. Hidden — nothing is
//! written at all — when stderr is not a terminal (CI logs, pipes, tests).
//!
//! Not handled yet: a per-layer bar. The pipeline (`verify.rs`) does not
//! report progress per stage or layer; when it takes a callback, `set_stage`
//! is where its calls land.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner on stderr if it is a terminal, else a hidden one.
    pub fn start(message: &str) -> Self {
        Self::with_target(message, std::io::stderr().is_terminal())
    }

    fn with_target(message: &str, visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress { bar }
    }

    pub fn set_stage(&self, stage: &str) {
        self.bar.set_message(stage.to_string());
    }

    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Removes the spinner line (before the results are printed); dropping
    /// the spinner does the same, so an early error return leaves no line.
    pub fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_when_not_a_terminal() {
        let p = Progress::start("verifying");
        assert_eq!(p.is_hidden(), !std::io::stderr().is_terminal());
        p.set_stage("comparing");
        p.finish();
        assert!(Progress::with_target("x", false).is_hidden());
    }
}
