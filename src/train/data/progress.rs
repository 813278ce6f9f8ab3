//! Progress output of data preparation: progress bars on stderr, progress lines and warnings
//! through `tracing`, printed with the bars suspended so no line is torn by a redraw.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The `tracing` target of every event (the data module, not this file).
const TARGET: &str = "transference::train::data";

/// Collects warnings for the summary and, when asked, shows progress: bars (all under one
/// [`MultiProgress`]) and `tracing` events, emitted with the bars suspended.
pub(super) struct Log {
    show: bool,
    bars: MultiProgress,
    /// Every warning, in order, for the summary and the metadata.
    pub(super) warnings: Vec<String>,
}

impl Log {
    /// A log that shows progress when `show` (and only collects warnings otherwise).
    pub(super) fn new(show: bool) -> Self {
        Self {
            show,
            bars: MultiProgress::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a warning; when showing, also emits it as a `tracing` warning.
    pub(super) fn warn(&mut self, msg: String) {
        if self.show {
            self.bars
                .suspend(|| tracing::warn!(target: TARGET, "{msg}"));
        }
        self.warnings.push(msg);
    }

    /// When showing, emits a progress line as a `tracing` info event.
    pub(super) fn info(&self, msg: &str) {
        if self.show {
            self.bars
                .suspend(|| tracing::info!(target: TARGET, "{msg}"));
        }
    }

    /// A progress bar of `len` steps labelled `prefix` (hidden when not showing).
    pub(super) fn bar(&self, prefix: &'static str, len: u64) -> ProgressBar {
        if !self.show {
            return ProgressBar::hidden();
        }
        let bar = self.bars.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>7} {bar:40} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(prefix);
        bar
    }
}
