//! The code pages of the session: which code's page is open, the back/forward history, the
//! pages the worker computed (a few kept, so going back is instant) and those asked for.
//! Plain data: the window asks [`CodePages::next_job`] every frame for the job the open page
//! needs (none when it is computed or asked for); the worker's
//! [`crate::engine::Event::CodePage`] comes back through [`CodePages::received`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::engine::Job;
use crate::engine::code_page::CodePage;

/// Pages kept in memory (the open one is never dropped).
pub const KEPT_PAGES: usize = 16;

/// What the page area shows for the open code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PageState<'a> {
    /// No code page has been opened.
    None,
    /// The worker is computing it.
    Computing(u32),
    Ready(&'a CodePage),
    /// The worker refused it; the reason.
    Failed(u32, &'a str),
}

/// Open page, history, computed pages.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodePages {
    /// Codes visited, oldest first.
    history: Vec<u32>,
    /// Index of the open code in `history`.
    at: usize,
    pages: BTreeMap<u32, CodePage>,
    /// Codes of `pages`, least recently shown first.
    order: VecDeque<u32>,
    pending: BTreeSet<u32>,
    failed: BTreeMap<u32, String>,
}

impl CodePages {
    /// The open code, if any.
    pub fn current(&self) -> Option<u32> {
        self.history.get(self.at).copied()
    }

    /// What to show for the open code.
    pub fn state(&self) -> PageState<'_> {
        let Some(code) = self.current() else {
            return PageState::None;
        };
        if let Some(page) = self.pages.get(&code) {
            return PageState::Ready(page);
        }
        match self.failed.get(&code) {
            Some(reason) => PageState::Failed(code, reason),
            None => PageState::Computing(code),
        }
    }

    /// Opens `code`'s page (forward history is dropped, as in a browser).
    pub fn open(&mut self, code: u32) {
        if self.current() != Some(code) {
            if !self.history.is_empty() {
                self.history.truncate(self.at + 1);
            }
            self.history.push(code);
            self.at = self.history.len() - 1;
        }
        self.shown(code);
    }

    /// True when there is a page to go back to.
    pub fn can_go_back(&self) -> bool {
        self.at > 0
    }

    /// True when there is a page to go forward to.
    pub fn can_go_forward(&self) -> bool {
        self.at + 1 < self.history.len()
    }

    /// Goes back one page.
    pub fn back(&mut self) {
        if self.can_go_back() {
            self.at -= 1;
            self.shown(self.history[self.at]);
        }
    }

    /// Goes forward one page.
    pub fn forward(&mut self) {
        if self.can_go_forward() {
            self.at += 1;
            self.shown(self.history[self.at]);
        }
    }

    /// `code`'s page is shown again: it becomes the most recently shown, and a failed page
    /// is asked for again.
    fn shown(&mut self, code: u32) {
        if self.pages.contains_key(&code) {
            self.order.retain(|&c| c != code);
            self.order.push_back(code);
        }
        self.failed.remove(&code);
    }

    /// The job the open page needs: none when it is computed, asked for or failed.
    pub fn next_job(&mut self) -> Option<Job> {
        let code = self.current()?;
        if self.pages.contains_key(&code) || self.failed.contains_key(&code) {
            return None;
        }
        self.pending.insert(code).then_some(Job::CodePage { code })
    }

    /// A page the worker computed; the least recently shown pages beyond [`KEPT_PAGES`] go.
    pub fn received(&mut self, page: CodePage) {
        let code = page.facts.code;
        self.pending.remove(&code);
        self.pages.insert(code, page);
        self.order.retain(|&c| c != code);
        self.order.push_back(code);
        while self.pages.len() > KEPT_PAGES {
            let current = self.current();
            let Some(pos) = self.order.iter().position(|&c| Some(c) != current) else {
                break;
            };
            if let Some(old) = self.order.remove(pos) {
                self.pages.remove(&old);
            }
        }
    }

    /// The worker could not compute `code`'s page.
    pub fn failed(&mut self, code: u32, reason: String) {
        self.pending.remove(&code);
        self.failed.insert(code, reason);
    }

    /// A new model: every page belongs to the old one. The history keeps the codes the new
    /// codebook has, so the open code's page is asked for again.
    pub fn model_changed(&mut self, codebook_size: usize) {
        let current = self.current();
        self.pages.clear();
        self.order.clear();
        self.pending.clear();
        self.failed.clear();
        self.history.retain(|&c| (c as usize) < codebook_size);
        self.at = current
            .and_then(|c| self.history.iter().rposition(|&h| h == c))
            .unwrap_or(self.history.len().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::code_facts::CodeFacts;

    fn page(code: u32) -> CodePage {
        CodePage {
            model: "m".into(),
            facts: CodeFacts {
                code,
                codebook_size: 100,
                positions: 0,
                total_positions: 0,
                share_of_assignments: 0.0,
                items: 0,
                per_modality: vec![],
                per_class: vec![],
                position_maps: vec![],
                top_items: vec![],
                nearest_codes: vec![],
                co_occurring: vec![],
            },
            resets_recorded: false,
            last_reset_step: None,
            decoded: Default::default(),
        }
    }

    #[test]
    fn code_page_history_goes_back_and_forward_and_asks_only_for_missing_pages() {
        let mut p = CodePages::default();
        assert_eq!(p.state(), PageState::None);
        p.open(3);
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 3 })));
        // Asked already: no second job.
        p.open(3);
        assert!(p.next_job().is_none());
        assert_eq!(p.state(), PageState::Computing(3));
        p.received(page(3));
        assert!(matches!(p.state(), PageState::Ready(pg) if pg.facts.code == 3));
        p.open(7);
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 7 })));
        p.received(page(7));
        assert!(p.can_go_back() && !p.can_go_forward());
        // Back to 3: computed, so no job.
        p.back();
        assert!(p.next_job().is_none());
        assert_eq!(p.current(), Some(3));
        assert!(p.can_go_forward());
        p.forward();
        assert!(p.next_job().is_none());
        assert_eq!(p.current(), Some(7));
        // Opening a page from the middle of the history drops what was ahead.
        p.back();
        p.open(9);
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 9 })));
        assert!(!p.can_go_forward());
        p.failed(9, "no".into());
        assert_eq!(p.state(), PageState::Failed(9, "no"));
        assert!(p.next_job().is_none());
        // A failed page is asked again when shown again.
        p.back();
        p.forward();
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 9 })));
    }

    #[test]
    fn only_the_last_pages_are_kept_and_a_new_model_asks_for_the_open_one_again() {
        let mut p = CodePages::default();
        for c in 0..(KEPT_PAGES as u32 + 4) {
            p.open(c);
            assert!(p.next_job().is_some());
            p.received(page(c));
        }
        assert_eq!(p.pages.len(), KEPT_PAGES);
        assert!(!p.pages.contains_key(&0));
        // Going back to a dropped page asks for it again.
        while p.current() != Some(0) {
            p.back();
        }
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 0 })));
        p.received(page(0));
        p.model_changed(10);
        assert!(p.history.iter().all(|&c| c < 10));
        assert_eq!(p.current(), Some(0));
        assert!(matches!(p.next_job(), Some(Job::CodePage { code: 0 })));
    }
}
