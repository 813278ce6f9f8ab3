//! The map selection, app side: selecting the gallery items inside a drawn shape (through
//! the map's filter and the shown layout's positions) and exporting them on a helper thread.

use super::{ExplorerApp, UiMsg, export_dir, spawn_helper};

impl ExplorerApp {
    /// Selects the gallery items inside `shape` that pass the map's filter.
    pub(super) fn select_region(&mut self, shape: crate::ui::selection::SelectionShape) {
        let Some(summary) = &self.session.summary else {
            return;
        };
        let session = &self.session;
        let xy = |p: &crate::engine::GalleryPoint| session.gallery_xy(&self.settings, p);
        let selection = crate::ui::selection::Selection::new(
            shape,
            &summary.gallery,
            xy,
            &self.settings.map_filter,
        );
        self.session.selection = Some(selection);
    }

    /// Writes the selection as CSV and JSON into the export folder, on a helper thread.
    pub(super) fn export_selection(&mut self) {
        let (Some(summary), Some(selection)) = (&self.session.summary, &self.session.selection)
        else {
            return;
        };
        let xy = |p: &crate::engine::GalleryPoint| self.session.gallery_xy(&self.settings, p);
        let rows = crate::ui::selection::rows(&summary.gallery, &selection.items, xy);
        let dir = export_dir(&self.settings);
        let tx = self.msgs_tx.clone();
        let repaint = self.ctx.clone();
        spawn_helper("transference-export-selection", &tx, &repaint, move || {
            UiMsg::SelectionSaved(crate::ui::selection::export(&dir, &rows))
        });
    }
}
