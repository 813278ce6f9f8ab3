//! The comparison with a second model, app side: the commands of the Compare tab turned into
//! worker jobs (the worker loads the second bundle and compares; nothing waits here), the
//! linked picks, and the table's export on a helper thread.

use std::path::PathBuf;

use crate::engine::InputSource;
use crate::ui::Command;
use crate::ui::dialogs::DialogKind;
use crate::ui::state::CentralTab;

use super::{ExplorerApp, UiMsg, export_dir, spawn_helper};

impl ExplorerApp {
    /// Carries out a command of the Compare tab.
    pub(super) fn apply_compare(&mut self, cmd: Command, ctx: &egui::Context) {
        match cmd {
            Command::CompareDialog => self.open_dialog(ctx, DialogKind::CompareFolder),
            Command::Compare(dir) => self.compare_with(dir),
            Command::CompareReadInputs => {
                let inputs = self.input_sources();
                if let Some(job) = self.session.compare.read_again(inputs) {
                    self.worker.submit(job);
                }
            }
            Command::ComparePick { side, item, add } => {
                self.session.compare.pick(side, item, add);
            }
            Command::CompareClearPicks => self.session.compare.clear_picks(),
            Command::ExportComparison => self.export_comparison(),
            Command::CloseComparison => self.session.compare.close(),
            _ => {}
        }
    }

    /// Compares the loaded model with the bundle in `dir` (loaded by the worker beside it),
    /// reading the current inputs with both, and shows the Compare tab.
    pub fn compare_with(&mut self, dir: PathBuf) {
        // A model still loading is fine: the worker loads it before it compares.
        if self.session.summary.is_none() && self.session.loading.is_none() {
            self.session.notifications.error(
                "Nothing to compare with",
                "open a model first; the second bundle is compared with it",
            );
            return;
        }
        let inputs = self.input_sources();
        let job = self.session.compare.start(dir, self.device, inputs);
        self.worker.submit(job);
        self.settings.tab = CentralTab::Compare;
    }

    /// Every current input, in order.
    fn input_sources(&self) -> Vec<InputSource> {
        self.session
            .inputs
            .iter()
            .map(|e| e.source.clone())
            .collect()
    }

    /// Writes the comparison table as CSV and JSON into the export folder, on a helper thread.
    fn export_comparison(&mut self) {
        let Some(view) = &self.session.compare.view else {
            return;
        };
        let comparison = view.comparison.clone();
        let dir = export_dir(&self.settings);
        let tx = self.msgs_tx.clone();
        let repaint = self.ctx.clone();
        spawn_helper("transference-export-comparison", &tx, &repaint, move || {
            UiMsg::ComparisonSaved(comparison.export(&dir))
        });
    }
}
