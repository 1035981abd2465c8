//! A progress indicator on the terminal for long runs (`thaw verify` on a
//! real architecture takes seconds to minutes), on stderr with indicatif:
//! a spinner with the elapsed time and the current stage (loading, running
//! the original graph, running the Keras layers) that becomes a bar over the
//! layers while they are compared (cumulative and isolated check of each,
//! named as it goes), then a spinner again while the first divergence is
//! diagnosed. Hidden — nothing is written at all — when stderr is not a
//! terminal (CI logs, pipes, tests).
//!
//! A [`Progress`] is cheap to clone (the pipeline keeps a handle in its
//! settings); only the one made by [`Progress::start`] clears the line when
//! dropped, so an early error return leaves no line behind.
//!
//! Not handled yet: progress inside a stage (tract's run, the interpreter).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::time::Duration;

pub struct Progress {
    bar: ProgressBar,
    /// Whether dropping this handle clears the line.
    owner: bool,
}

const SPINNER: &str = "{spinner} [{elapsed_precise}] {msg}";
const BAR: &str = "{spinner} [{elapsed_precise}] comparing {pos}/{len} {wide_bar} {msg}";

impl Progress {
    /// A spinner on stderr if it is a terminal, else a hidden one.
    pub fn start(message: &str) -> Self {
        Self::with_target(message, std::io::stderr().is_terminal())
    }

    /// Draws nothing.
    pub fn hidden() -> Self {
        Self::with_target("", false)
    }

    fn with_target(message: &str, visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let p = Progress { bar, owner: true };
        p.style(SPINNER);
        p.bar.set_message(message.to_string());
        if visible {
            p.bar.enable_steady_tick(Duration::from_millis(120));
        }
        p
    }

    fn style(&self, template: &str) {
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
    }

    /// A stage without a count: back to the spinner, with `stage` as message.
    pub fn stage(&self, stage: &str) {
        self.style(SPINNER);
        self.bar.set_length(0);
        self.bar.set_position(0);
        self.bar.set_message(stage.to_string());
    }

    /// Same as [`Progress::stage`] (the older name).
    pub fn set_stage(&self, stage: &str) {
        self.stage(stage);
    }

    /// Starts the per-layer bar over `n` layers.
    pub fn layers(&self, n: u64) {
        self.bar.set_position(0);
        self.bar.set_length(n);
        self.style(BAR);
        self.bar.set_message(String::new());
    }

    /// One more layer is being checked (`name`).
    pub fn layer(&self, name: &str) {
        self.bar.inc(1);
        self.bar.set_message(name.to_string());
    }

    /// Layers counted so far by [`Progress::layer`] and the bar's length.
    pub fn position(&self) -> (u64, Option<u64>) {
        (self.bar.position(), self.bar.length())
    }

    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Removes the line (before the results are printed); dropping the
    /// handle made by [`Progress::start`] does the same.
    pub fn finish(self) {}
}

impl Default for Progress {
    fn default() -> Self {
        Progress::hidden()
    }
}

impl Clone for Progress {
    fn clone(&self) -> Self {
        Progress {
            bar: self.bar.clone(),
            owner: false,
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("hidden", &self.is_hidden())
            .field("position", &self.position())
            .finish()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.owner {
            self.bar.finish_and_clear();
        }
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
        assert!(Progress::default().is_hidden());
    }

    #[test]
    fn counts_layers_through_clones() {
        let p = Progress::hidden();
        let handle = p.clone();
        handle.layers(3);
        handle.layer("a");
        handle.layer("b");
        drop(handle);
        assert_eq!(p.position(), (2, Some(3)));
        p.stage("diagnosing");
        assert_eq!(p.position().0, 0);
    }
}
