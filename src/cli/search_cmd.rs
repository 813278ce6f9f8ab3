//! `transference search GALLERY --queries Q.npy -k K [--approx]`: top-k of a batch of query
//! embeddings over a gallery's embeddings, without a model: exact by default, or through an
//! HNSW graph built in the run with `--approx` (see [`crate::index::hnsw`]). The gallery's
//! tensor file is memory-mapped (see [`crate::bundle::embedding_store`]); `items.json` is not
//! read.
//!
//! The exact scan stays the default at every size: the graph is not stored with the gallery,
//! so one run pays its build for one batch of queries, which the exact scan answers in well
//! under a second (measured on a shared 2-core machine at 100k x 256: a 118 s build for
//! clustered rows, 994 s for uniformly random ones, against 0.1-0.25 s for 64 exact queries).
//! `--approx` is for measuring it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::json;

use crate::bundle::embedding_store::EmbeddingStore;
use crate::bundle::gallery::{EMBEDDINGS_TENSOR, GALLERY_TENSORS};
use crate::bundle::{MANIFEST_FILE, Manifest};
use crate::error::{Error, Result};
use crate::index::hnsw::DEFAULT_EF_SEARCH;
use crate::index::{ExactIndex, GalleryIndex, HnswIndex, HnswSettings};

/// Largest k.
pub const MAX_SEARCH_K: usize = 10_000;
/// Largest number of hits one run prints (queries x k).
pub const MAX_SEARCH_HITS: usize = 10_000_000;

/// Arguments of `search`.
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// A model bundle folder (its gallery is searched) or a gallery folder (with
    /// gallery.safetensors).
    pub gallery: PathBuf,
    /// Query embeddings of shape [Q, D] (D = the gallery's dimension): a .npy float16/32/64
    /// array, a safetensors tensor `queries` (or its only 2-D float tensor) or a Projector
    /// vectors TSV. Each row is L2-normalised, so scores are cosine similarities.
    #[arg(long)]
    pub queries: PathBuf,
    /// Hits per query.
    #[arg(short = 'k', default_value_t = 10)]
    pub k: usize,
    /// Search an approximate HNSW graph built over the gallery in this run instead of scanning
    /// every row (the JSON says `"index": "hnsw"` and gives `build_seconds`).
    #[arg(long)]
    pub approx: bool,
}

/// The gallery tensor file of `dir` (a bundle or a gallery folder) and, for a bundle, the
/// embedding dimension its manifest promises.
pub fn gallery_tensors(dir: &Path) -> Result<(PathBuf, Option<usize>)> {
    if dir.join(MANIFEST_FILE).is_file() {
        let manifest = Manifest::read(dir)?;
        let rel = manifest.gallery.as_ref().ok_or_else(|| Error::Gallery {
            path: dir.join(MANIFEST_FILE),
            reason: "this bundle has no gallery to search".into(),
        })?;
        let gdir = crate::bundle::resolve(dir, rel);
        return Ok((
            gdir.join(GALLERY_TENSORS),
            Some(manifest.architecture.d_model),
        ));
    }
    if dir.join(GALLERY_TENSORS).is_file() {
        return Ok((dir.join(GALLERY_TENSORS), None));
    }
    Err(Error::Gallery {
        path: dir.to_path_buf(),
        reason: format!(
            "neither a model bundle (no {MANIFEST_FILE}) nor a gallery folder (no {GALLERY_TENSORS})"
        ),
    })
}

/// Runs the command.
pub fn run(args: &SearchArgs, json_out: bool) -> Result<()> {
    if args.k == 0 || args.k > MAX_SEARCH_K {
        return Err(Error::InvalidRequest(format!(
            "-k {} is out of range; expected 1 to {MAX_SEARCH_K}",
            args.k
        )));
    }
    let opened = Instant::now();
    let (tensors, expected_dim) = gallery_tensors(&args.gallery)?;
    let (store, dim) = EmbeddingStore::open(&tensors, EMBEDDINGS_TENSOR, None, expected_dim)?;
    let exact = ExactIndex::new(store.rows(), dim)?.with_source(&tensors, EMBEDDINGS_TENSOR);
    let open_seconds = opened.elapsed().as_secs_f64();

    let mut q = crate::bundle::import::arrays::read_floats(&args.queries, "queries")?;
    let qpath = args.queries.display();
    if q.cols != dim {
        return Err(Error::InvalidRequest(format!(
            "{qpath}: queries have {} dimensions, expected {dim} (the gallery's, from {})",
            q.cols,
            tensors.display()
        )));
    }
    if q.rows == 0 {
        return Err(Error::InvalidRequest(format!(
            "{qpath}: no query rows; expected shape [Q, {dim}] with Q >= 1"
        )));
    }
    if let Some(row) = q
        .values
        .chunks_exact(dim)
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::InvalidRequest(format!(
            "{qpath}: query row {row} holds NaN/infinite values; expected finite embeddings"
        )));
    }
    if q.rows.saturating_mul(args.k.min(exact.len())) > MAX_SEARCH_HITS {
        return Err(Error::InvalidRequest(format!(
            "{qpath}: {} queries x k = {} would print more than {MAX_SEARCH_HITS} hits; search fewer queries at a time",
            q.rows, args.k
        )));
    }
    crate::index::l2_normalize_rows(&mut q.values, dim);

    let built = Instant::now();
    let hnsw = if args.approx {
        let settings = HnswSettings {
            ef_search: DEFAULT_EF_SEARCH.max(args.k),
            ..HnswSettings::default()
        };
        Some(
            // The rows' refusals name the gallery file; an internal failure stays one.
            HnswIndex::build(store.rows(), dim, settings).map_err(|e| match e {
                Error::InvalidRequest(reason) => Error::Gallery {
                    path: tensors.clone(),
                    reason: format!("tensor `{EMBEDDINGS_TENSOR}`: {reason}"),
                },
                other => other,
            })?,
        )
    } else {
        None
    };
    let build_seconds = built.elapsed().as_secs_f64();
    let (index, index_name): (&dyn GalleryIndex, &str) = match &hnsw {
        Some(h) => (h, "hnsw"),
        None => (&exact, "exact"),
    };

    let searched = Instant::now();
    let hits = index.top_k(&q.values, args.k)?;
    let search_seconds = searched.elapsed().as_secs_f64();

    let ids: Vec<Vec<usize>> = hits
        .iter()
        .map(|h| h.iter().map(|x| x.index).collect())
        .collect();
    let scores: Vec<Vec<f32>> = hits
        .iter()
        .map(|h| h.iter().map(|x| x.score).collect())
        .collect();
    if json_out {
        let mut obj = json!({
            "gallery": tensors.display().to_string(),
            "rows": index.len(),
            "index": index_name,
            "dim": dim,
            "dtype": store.dtype().to_string(),
            "queries": q.rows,
            "k": args.k,
            "ids": ids,
            "scores": scores,
            "open_seconds": open_seconds,
            "search_seconds": search_seconds,
        });
        if hnsw.is_some() {
            obj["build_seconds"] = json!(build_seconds);
        }
        println!("{obj}");
    } else {
        let built = if hnsw.is_some() {
            format!("built an HNSW graph in {build_seconds:.3} s, ")
        } else {
            String::new()
        };
        println!(
            "{} queries over {} rows x {dim} ({}) from {}: opened in {open_seconds:.3} s, {built}searched ({index_name}) in {search_seconds:.3} s",
            q.rows,
            index.len(),
            store.dtype(),
            tensors.display()
        );
        for (i, h) in hits.iter().enumerate() {
            let list: Vec<String> = h
                .iter()
                .map(|x| format!("{} ({:.4})", x.index, x.score))
                .collect();
            println!("query {i}: {}", list.join(", "));
        }
    }
    Ok(())
}
