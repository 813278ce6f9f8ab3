//! The low-resource curves, app side: the job that computes them on the worker (with the
//! lab's modalities, features and noise level) and the figure-data export on a helper thread.

use super::{ExplorerApp, UiMsg, export_dir, spawn_helper};
use crate::engine::Job;
use crate::engine::protocol::GalleryCurves;
use crate::preprocess::degrade::NoiseLevel;
use crate::ui::transfer_panel;

impl ExplorerApp {
    /// Asks the worker for the curves: tested modality = the lab's "test on", helper = its
    /// "fit on".
    pub(super) fn run_low_resource(&mut self) {
        let Some((helper, primary)) =
            transfer_panel::pick_modalities(&self.session, &self.settings)
        else {
            return;
        };
        self.session.low_resource_running = Some(0.0);
        self.worker.submit(Job::LowResource {
            run: GalleryCurves {
                primary,
                helper,
                features: self.settings.transfer_features,
                noise: NoiseLevel::new(self.settings.low_resource_noise),
            },
        });
    }

    /// Writes the curves' CSV and JSON into the export folder, on a helper thread.
    pub(super) fn export_low_resource(&mut self) {
        let Some(report) = self.session.low_resource.clone() else {
            return;
        };
        let dir = export_dir(&self.settings);
        let tx = self.msgs_tx.clone();
        let repaint = self.ctx.clone();
        spawn_helper("transference-export-curves", &tx, &repaint, move || {
            UiMsg::CurvesSaved(crate::ui::export::save_low_resource(&dir, &report))
        });
    }
}
