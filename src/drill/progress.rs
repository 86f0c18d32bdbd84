//! Progress on the terminal (indicatif): one bar per scenario counting its steps, and a spinner
//! for the step in flight, which during load shows requests done, errors and the current p95.
//! Hidden when stderr is not a terminal (CI logs stay clean) or with `--progress never`. Log
//! lines go through `tracing`, whose writer suspends the bars while a line is printed, so a line
//! is never drawn over or hidden by a bar.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Shown when stderr is a terminal.
    Auto,
    /// Never shown.
    Never,
}

static MULTI: OnceLock<MultiProgress> = OnceLock::new();

/// The bars of a run; hidden bars cost nothing and draw nothing.
#[derive(Clone, Debug)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Self {
        let show = mode == ProgressMode::Auto && std::io::stderr().is_terminal();
        if !show {
            return Progress { multi: None };
        }
        let multi = MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        Progress { multi: Some(multi.clone()) }
    }

    pub fn hidden() -> Self {
        Progress { multi: None }
    }

    /// Takes the bars off the screen before the summary is printed.
    pub fn done(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }

    /// A bar for one scenario and a spinner under it.
    pub fn scenario(&self, name: &str, steps: usize) -> ScenarioProgress {
        let Some(multi) = &self.multi else {
            return ScenarioProgress { bar: ProgressBar::hidden(), spinner: ProgressBar::hidden() };
        };
        let bar = multi.add(ProgressBar::new(steps as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:<36} [{bar:24}] {pos}/{len} steps {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        let spinner = multi.add(ProgressBar::new_spinner());
        spinner.set_style(
            ProgressStyle::with_template("  {spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.enable_steady_tick(Duration::from_millis(120));
        ScenarioProgress { bar, spinner }
    }
}

/// One scenario's bar and spinner.
#[derive(Clone)]
pub struct ScenarioProgress {
    bar: ProgressBar,
    spinner: ProgressBar,
}

impl ScenarioProgress {
    pub fn hidden() -> Self {
        ScenarioProgress { bar: ProgressBar::hidden(), spinner: ProgressBar::hidden() }
    }

    pub fn step(&self, index: usize, kind: &str) {
        self.bar.set_position(index as u64);
        self.spinner.set_message(format!("step {} {kind}", index + 1));
    }

    pub fn load(&self, done: u64, errors: u64, p95_ms: f64) {
        self.spinner.set_message(format!("load: {done} requests, {errors} errors, p95 {p95_ms:.1} ms"));
    }

    pub fn finish(&self, verdict: &str) {
        self.spinner.finish_and_clear();
        self.bar.set_position(self.bar.length().unwrap_or(0));
        self.bar.abandon_with_message(verdict.to_string());
    }
}

/// The writer `tracing` prints through: around visible bars it suspends them for the line.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match MULTI.get() {
            Some(m) => m.suspend(|| std::io::stderr().write_all(buf)).map(|_| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_hide_when_stderr_is_not_a_terminal_or_when_told() {
        // Under the test runner stderr is a pipe, as in CI logs.
        if !std::io::stderr().is_terminal() {
            assert!(Progress::new(ProgressMode::Auto).multi.is_none());
        }
        assert!(Progress::new(ProgressMode::Never).multi.is_none());
        // Hidden bars accept every call and draw nothing.
        let p = Progress::hidden().scenario("s", 3);
        p.step(0, "health");
        p.load(10, 1, 2.5);
        p.finish("PASS");
        assert!(p.bar.is_hidden());
    }
}
