//! Plain-data views of a loaded [`Pipeline`] for the window: the model summary (gallery map,
//! codebook projection, statistics) and the transfer experiment on the gallery.

use crate::engine::gallery_map::gallery_map;
use crate::engine::pipeline::Pipeline;
use crate::engine::protocol::{GalleryPoint, ModelSummary};
use crate::error::{Error, Result};
use crate::index::pca::Pca2;
use crate::index::stats::CodebookStats;
use crate::index::transfer::{self, FitSettings, TransferFeatures, TransferItem, TransferReport};
use crate::modality::Modality;

impl Pipeline {
    /// The gallery's items of `m` whose label is one of `labels`, as (gallery index, item
    /// with its codes, embedding and class index).
    pub fn labelled_gallery_items(
        &self,
        m: Modality,
        labels: &[String],
    ) -> Result<Vec<(usize, TransferItem)>> {
        let gallery = self.gallery()?;
        Ok(gallery
            .indices_of(m)
            .into_iter()
            .filter_map(|i| {
                let label = gallery.items[i].label.as_ref()?;
                let idx = labels.iter().position(|l| l == label)?;
                Some((
                    i,
                    TransferItem {
                        codes: gallery.codes[i].clone(),
                        embedding: gallery.embedding(i).to_vec(),
                        label: idx,
                    },
                ))
            })
            .collect())
    }
}

/// The transfer experiment on the gallery's labelled items.
pub fn gallery_transfer(
    pipeline: &Pipeline,
    source: Modality,
    target: Modality,
    features: TransferFeatures,
) -> Result<TransferReport> {
    let labels = pipeline.gallery_labels();
    let (_, src): (Vec<usize>, Vec<TransferItem>) = pipeline
        .labelled_gallery_items(source, &labels)?
        .into_iter()
        .unzip();
    if src.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "the gallery has no labelled {source} items to fit on"
        )));
    }
    let (target_indices, target_items): (Vec<usize>, Vec<TransferItem>) = pipeline
        .labelled_gallery_items(target, &labels)?
        .into_iter()
        .unzip();
    let mut report = transfer::run_transfer(
        source,
        target,
        &src,
        &target_items,
        &labels,
        pipeline.bundle.manifest.architecture.codebook_size,
        features,
        FitSettings::default(),
    )?;
    // Positions in the target items become gallery indices.
    for t in &mut report.tested {
        t.index = target_indices.get(t.index).copied().unwrap_or(t.index);
    }
    Ok(report)
}

/// Builds the model summary: gallery map (PCA), codebook projection and statistics.
pub fn summarize(pipeline: &Pipeline, load_ms: f64) -> (ModelSummary, Option<Pca2>) {
    let m = &pipeline.bundle.manifest;
    let card = std::fs::read_to_string(pipeline.bundle.dir.join(&m.card)).unwrap_or_default();
    let gallery = pipeline.bundle.gallery.as_ref();
    let map = gallery.and_then(gallery_map);
    let (pca, xy) = match map {
        Some((pca, xy)) => (Some(pca), Some(xy)),
        None => (None, None),
    };
    let points = match gallery {
        Some(g) => (0..g.len())
            .map(|i| {
                let item = &g.items[i];
                GalleryPoint {
                    index: i,
                    modality: item.modality,
                    label: item.label.clone(),
                    source: item.source.clone(),
                    text: item.text.clone(),
                    media: g.media_path(i),
                    xy: xy.as_ref().map_or([0.0, 0.0], |xy| xy[i]),
                    codes: g.codes[i].clone(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let codebook_xy = match (&pca, pipeline.bundle.codebook_vectors()) {
        (Some(p), Some(vectors)) => vectors
            .chunks_exact(m.architecture.d_model)
            .map(|v| {
                let mut unit = v.to_vec();
                crate::index::l2_normalize(&mut unit);
                p.project(&unit)
            })
            .collect(),
        _ => Vec::new(),
    };
    let stats = gallery.map(|g| {
        CodebookStats::compute(
            m.architecture.codebook_size,
            g.items
                .iter()
                .zip(&g.codes)
                .map(|(it, c)| (it.modality, c.as_slice())),
        )
    });
    let summary = ModelSummary {
        dir: pipeline.bundle.dir.clone(),
        name: m.name.clone(),
        description: m.description.clone(),
        card,
        modalities: m.architecture.modalities(),
        codebook_size: m.architecture.codebook_size,
        d_model: m.architecture.d_model,
        temperature: m.architecture.temperature,
        labels: m.labels.names.clone(),
        prompts: m.labels.prompts.clone(),
        device: pipeline.device.description.clone(),
        metrics: m.metrics.clone(),
        gallery: points,
        codebook_xy,
        stats,
        map_explained: pca.as_ref().map(|p| p.explained_fraction).unwrap_or(0.0),
        image_grid: m.architecture.image.as_ref().map(|c| c.grid()),
        audio_clip_secs: m
            .preprocess
            .audio
            .as_ref()
            .map(|a| f64::from(a.audio.max_duration_secs)),
        generation_targets: pipeline.generation_targets(),
        load_ms,
    };
    (summary, pca)
}
