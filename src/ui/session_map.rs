//! The session's map: the worker jobs the map needs (a t-SNE or UMAP layout, the gallery's
//! zero-shot labels for the correct / wrong colouring, its similarity to a query) and where
//! each gallery item sits on the map shown. Plain data, like the rest of [`Session`].

use crate::engine::Job;
use crate::engine::protocol::SimilarityQuery;
use crate::index::projection::Projection;
use crate::ui::session::Session;
use crate::ui::state::{MapColoring, MapLayout, Settings};

/// Position of gallery item `p` on `layout` (a t-SNE or UMAP layout of the whole gallery), or
/// its PCA position when there is none.
pub fn layout_xy(layout: Option<&[[f32; 2]]>, p: &crate::engine::GalleryPoint) -> [f64; 2] {
    let v = layout.and_then(|l| l.get(p.index)).copied().unwrap_or(p.xy);
    [f64::from(v[0]), f64::from(v[1])]
}

impl Session {
    /// The job the chosen map needs, if any (the window calls this every frame): t-SNE or
    /// UMAP not computed yet for this model, or a stop when the chosen map is ready but
    /// another is still being computed. A failed map is not asked for again until the next
    /// model.
    pub fn projection_job(&mut self, settings: &Settings) -> Option<Job> {
        let want = settings.map_projection;
        let has_gallery = self.summary.as_ref().is_some_and(|s| !s.gallery.is_empty());
        if !has_gallery || self.projection_running == Some(want) {
            return None;
        }
        let ready =
            want == Projection::Pca || self.layouts.get(&want).is_some_and(MapLayout::finished);
        if ready {
            // `Project { Pca }` stops the running map and is answered at once.
            return self.projection_running.take().map(|_| Job::Project {
                projection: Projection::Pca,
            });
        }
        self.projection_running = Some(want);
        self.layouts.insert(want, MapLayout::default());
        Some(Job::Project { projection: want })
    }

    /// The job the map's correct / wrong colouring needs, if any (the window calls this every
    /// frame): the gallery's zero-shot labels for the current labels and templates, once the
    /// label editor has settled, asked for once per model and label set.
    pub fn gallery_zero_shot_job(&mut self, settings: &Settings) -> Option<Job> {
        let has_gallery = self.summary.as_ref().is_some_and(|s| !s.gallery.is_empty());
        if settings.map_coloring != MapColoring::Correctness
            || !has_gallery
            || self.loading.is_some()
            || self.labels_edited_at.is_some()
        {
            return None;
        }
        let wanted = (self.labels(), self.templates());
        if wanted.0.is_empty() || self.gallery_zero_shot_asked.as_ref() == Some(&wanted) {
            return None;
        }
        self.gallery_zero_shot_asked = Some(wanted.clone());
        Some(Job::GalleryZeroShot {
            labels: wanted.0,
            templates: wanted.1,
        })
    }

    /// The job the map's similarity colouring needs, if any (the window calls this every
    /// frame): the gallery's similarity to the typed prompt, or to the selected input once it
    /// is analysed, asked for once per query.
    pub fn gallery_similarity_job(&mut self, settings: &Settings) -> Option<Job> {
        let has_gallery = self.summary.as_ref().is_some_and(|s| !s.gallery.is_empty());
        if settings.map_coloring != MapColoring::Similarity
            || !has_gallery
            || self.loading.is_some()
        {
            return None;
        }
        let query = if settings.map_similar_to_selected {
            let entry = self.selected_input()?;
            SimilarityQuery::Embedding {
                name: entry.name.clone(),
                embedding: entry.analysis()?.input.item.embedding.clone(),
            }
        } else {
            let text = settings.map_similar_to.trim();
            if text.is_empty() {
                return None;
            }
            SimilarityQuery::Text(text.to_string())
        };
        if self.gallery_similarity_asked.as_ref() == Some(&query) {
            return None;
        }
        self.gallery_similarity_asked = Some(query.clone());
        Some(Job::GallerySimilarity(query))
    }

    /// The chosen non-linear map's layout, once it has one (partial or complete); `None`: the
    /// map shows PCA positions.
    pub fn map_layout(&self, settings: &Settings) -> Option<&MapLayout> {
        let items = self.summary.as_ref()?.gallery.len();
        self.layouts
            .get(&settings.map_projection)
            .filter(|l| settings.map_projection != Projection::Pca && l.xy.len() == items)
    }

    /// Where gallery item `p` sits on the map shown: on the chosen t-SNE or UMAP layout once
    /// it has one, else on the PCA of the summary. Drawing and selecting both use this.
    pub fn gallery_xy(&self, settings: &Settings, p: &crate::engine::GalleryPoint) -> [f64; 2] {
        layout_xy(self.map_layout(settings).map(|l| l.xy.as_slice()), p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::engine::GalleryPoint;
    use crate::engine::protocol::{ErrorKind, JobError};
    use crate::engine::{Event, JobKind, ModelSummary};
    use crate::modality::Modality;

    /// A session with a model whose gallery has `items` points.
    fn session(items: usize) -> (Session, Settings) {
        let mut settings = Settings::default();
        let mut s = Session::default();
        let point = |index| GalleryPoint {
            index,
            modality: Modality::Text,
            label: None,
            source: String::new(),
            text: None,
            media: None,
            xy: [index as f32, 0.0],
            codes: vec![],
        };
        let summary = ModelSummary {
            gallery: (0..items).map(point).collect(),
            ..tests_summary()
        };
        s.apply_event(Event::Loaded(Box::new(summary)), &mut settings);
        (s, settings)
    }

    /// The map a job asks for, if it is a `Job::Project`.
    fn asked(job: Option<Job>) -> Option<Projection> {
        match job {
            Some(Job::Project { projection }) => Some(projection),
            _ => None,
        }
    }

    fn tests_summary() -> ModelSummary {
        ModelSummary {
            dir: PathBuf::from("models/tiny"),
            name: "tiny".into(),
            modalities: vec![Modality::Text],
            codebook_size: 4,
            d_model: 2,
            temperature: 0.07,
            device: "cpu".into(),
            map_explained: 0.5,
            ..Default::default()
        }
    }

    #[test]
    fn a_chosen_map_is_asked_for_once_shown_as_it_comes_and_kept() {
        let (mut s, mut settings) = session(3);
        assert!(s.projection_job(&settings).is_none(), "PCA needs no job");
        settings.map_projection = Projection::Tsne;
        assert_eq!(asked(s.projection_job(&settings)), Some(Projection::Tsne));
        assert!(s.projection_job(&settings).is_none(), "asked once");
        assert_eq!(
            s.map_layout(&settings),
            None,
            "PCA positions until a snapshot"
        );
        let snapshot = vec![[1.0, 1.0]; 3];
        s.apply_event(
            Event::ProjectionProgress {
                projection: Projection::Tsne,
                fraction: 0.5,
                xy: Some(snapshot.clone()),
            },
            &mut settings,
        );
        assert_eq!(s.map_layout(&settings).unwrap().xy, snapshot);
        // A snapshot of the wrong size (another model's) is ignored.
        s.apply_event(
            Event::ProjectionProgress {
                projection: Projection::Tsne,
                fraction: 0.6,
                xy: Some(vec![[9.0, 9.0]; 5]),
            },
            &mut settings,
        );
        assert_eq!(s.map_layout(&settings).unwrap().xy, snapshot);
        s.apply_event(
            Event::Projected {
                projection: Projection::Tsne,
                xy: vec![[2.0, 2.0]; 3],
                seconds: 1.5,
            },
            &mut settings,
        );
        assert_eq!(s.projection_running, None);
        assert_eq!(s.map_layout(&settings).unwrap().seconds, Some(1.5));
        // Back to PCA and to t-SNE again: nothing to compute.
        settings.map_projection = Projection::Pca;
        assert!(s.projection_job(&settings).is_none());
        settings.map_projection = Projection::Tsne;
        assert!(s.projection_job(&settings).is_none());
    }

    #[test]
    fn choosing_pca_stops_a_running_map_and_a_failed_one_is_not_retried() {
        let (mut s, mut settings) = session(3);
        settings.map_projection = Projection::Umap;
        assert!(s.projection_job(&settings).is_some());
        settings.map_projection = Projection::Pca;
        assert_eq!(
            asked(s.projection_job(&settings)),
            Some(Projection::Pca),
            "a stop"
        );
        assert_eq!(s.projection_running, None);
        settings.map_projection = Projection::Tsne;
        assert!(s.projection_job(&settings).is_some());
        s.apply_event(
            Event::Failed {
                job: JobKind::Project {
                    projection: Projection::Tsne,
                },
                error: JobError {
                    kind: ErrorKind::BadInput,
                    message: "too few".into(),
                },
            },
            &mut settings,
        );
        assert!(s.projection_job(&settings).is_none(), "not retried");
        assert_eq!(
            s.layouts[&Projection::Tsne].failed.as_deref(),
            Some("too few")
        );
        // A new model clears the layouts: the map is asked for again.
        let (mut s2, _) = session(3);
        s2.layouts = s.layouts.clone();
        s2.apply_event(
            Event::Loaded(Box::new(s.summary.clone().unwrap())),
            &mut settings,
        );
        assert!(s2.projection_job(&settings).is_some());
    }
}
