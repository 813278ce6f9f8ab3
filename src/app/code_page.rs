//! Code pages, app side: opening a page (and lighting its code up), back and forward, *Show on
//! map*, playing the decoded sound and the export (PNG of the page as shown, JSON, WAV) on a
//! helper thread. The pages themselves are computed by the worker
//! ([`crate::engine::Job::CodePage`], asked for in [`ExplorerApp::pump`]).

use crate::audio_io::{AudioRequest, Clip, ClipId};
use crate::ui::Command;
use crate::ui::code_pages::PageState;
use crate::ui::selection::SelectionShape;
use crate::ui::state::CentralTab;

use super::{ExplorerApp, UiMsg, export_dir, spawn_helper};

impl ExplorerApp {
    /// Applies a code page command (see [`Command::OpenCodePage`] and the ones after it).
    pub(super) fn apply_code_page(&mut self, cmd: Command, ctx: &egui::Context) {
        match cmd {
            Command::OpenCodePage(code) => {
                self.session.code_pages.open(code);
                self.session.selected_code = Some(code);
                self.settings.tab = CentralTab::Code;
            }
            Command::CodePageBack => {
                self.session.code_pages.back();
                self.session.selected_code = self.session.code_pages.current();
            }
            Command::CodePageForward => {
                self.session.code_pages.forward();
                self.session.selected_code = self.session.code_pages.current();
            }
            Command::ShowCodeOnMap(code) => {
                self.select_region(SelectionShape::Code(code));
                self.settings.panels.map = true;
                self.settings.tab = CentralTab::Selection;
            }
            Command::PlayCodeSound(code) => {
                if let PageState::Ready(page) = self.session.code_pages.state()
                    && page.facts.code == code
                    && let Some(sound) = &page.decoded.sound
                {
                    self.audio.send(AudioRequest::Play(Clip {
                        id: ClipId::Code(code),
                        wave: crate::preprocess::audio::Waveform {
                            samples: sound.samples.clone(),
                            sample_rate_hz: sound.sample_rate_hz,
                        },
                    }));
                }
            }
            Command::ExportCodePage => self.export_code_page(ctx),
            _ => {}
        }
    }

    /// Writes the open page (its JSON, sound and the page as on screen) into the export
    /// folder: a screenshot is taken, and a helper thread crops and writes.
    fn export_code_page(&mut self, ctx: &egui::Context) {
        let PageState::Ready(page) = self.session.code_pages.state() else {
            return;
        };
        let page = page.clone();
        let rect = self.view.chart_rects.code_page;
        let dir = export_dir(&self.settings);
        let ppp = ctx.pixels_per_point();
        let tx = self.msgs_tx.clone();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            spawn_helper("transference-export-code", &tx, &repaint, move || {
                let shot = rect.map(|r| (image.as_ref(), r, ppp));
                UiMsg::CodePageSaved(crate::ui::export::save_code_page(&dir, &page, shot))
            });
        });
    }
}
