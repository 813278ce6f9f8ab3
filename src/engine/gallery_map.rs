//! The gallery's PCA map: every item's position from the fitted projection, projected in
//! chunks so a 1M-row gallery never needs a second copy of its embeddings.

use crate::bundle::gallery::Gallery;
use crate::index::pca::Pca2;
use crate::index::rows::Rows;

/// Every gallery item on the PCA map: one matrix product per chunk of rows, straight from
/// f32 storage (mapped or owned), chunk by chunk for f16 storage.
pub fn gallery_xy(pca: &Pca2, gallery: &Gallery) -> Vec<[f32; 2]> {
    const CHUNK_ROWS: usize = 65_536;
    let dim = gallery.dim;
    if let Rows::F32(all) = gallery.embeddings.rows() {
        return pca.project_rows(all, dim);
    }
    let mut xy = Vec::with_capacity(gallery.len());
    let mut chunk = Vec::with_capacity(CHUNK_ROWS * dim);
    for start in (0..gallery.len()).step_by(CHUNK_ROWS) {
        chunk.clear();
        for i in start..(start + CHUNK_ROWS).min(gallery.len()) {
            chunk.extend_from_slice(&gallery.embedding(i));
        }
        xy.extend(pca.project_rows(&chunk, dim));
    }
    xy
}

/// The gallery's PCA map: the fitted projection and every item's position, in gallery order;
/// `None` when it cannot be fitted (fewer than 2 items, non-finite embeddings).
pub fn gallery_map(gallery: &Gallery) -> Option<(Pca2, Vec<[f32; 2]>)> {
    let pca = Pca2::fit_rows(gallery.len(), gallery.dim, |i| gallery.embedding(i))?;
    let xy = gallery_xy(&pca, gallery);
    Some((pca, xy))
}
