//! Bench sections of issue 10 at scale: `index` throughput in items per second, and the
//! approximate (HNSW) index against the exact scan (build time, query time, recall@10).

use std::path::{Path, PathBuf};
use std::time::Instant;

use transference::cli::index_cmd::{INDEX_CHUNK_FILES, IndexArgs, index};
use transference::device::DeviceRequest;
use transference::engine::{InputSource, Pipeline};
use transference::index::search::Hit;
use transference::index::{ExactIndex, GalleryIndex as _, HnswIndex, HnswSettings, Rows};
use transference::preprocess::mnist::MNIST_SIDE_PX;

use super::{clustered_unit_rows, near_centres, random_unit_rows, time_ms};

/// Files indexed by the index-throughput section (four chunks of [`INDEX_CHUNK_FILES`]).
const INDEX_FILES: usize = 4 * INDEX_CHUNK_FILES;

/// `count` small files in `dir`: 28x28 PNG digits and 0.5 s 8 kHz WAVs, alternating, each
/// a little different.
pub fn write_small_files(dir: &Path, count: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                let p = dir.join(format!("f{i:05}.png"));
                let mut img = image::GrayImage::new(MNIST_SIDE_PX, MNIST_SIDE_PX);
                let x0 = 4 + (i % 18) as u32;
                for y in 5..23 {
                    for x in x0..x0 + 4 {
                        img.put_pixel(x, y, image::Luma([255]));
                    }
                }
                img.save(&p).unwrap();
                p
            } else {
                let p = dir.join(format!("f{i:05}.wav"));
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: 8000,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let hz = 200.0 + 37.0 * (i % 40) as f32;
                let mut w = hound::WavWriter::create(&p, spec).unwrap();
                for n in 0..4000 {
                    let t = n as f32 / 8000.0;
                    w.write_sample(((t * hz * std::f32::consts::TAU).sin() * 9000.0) as i16)
                        .unwrap();
                }
                w.finalize().unwrap();
                p
            }
        })
        .collect()
}

/// `transference index` over [`INDEX_FILES`] small files with `bundle` on the CPU, in items per
/// second: the whole command (chunked encoding, journal commits, the final gallery write)
/// against one `Pipeline::encode` per file in the same run; then a run interrupted half-way
/// and resumed from its journal. Run alone with `-- --index-only`.
pub fn index_throughput(bundle: &Path) {
    if !bundle.join("manifest.toml").exists() {
        println!("\n(models/digits missing: index-throughput section skipped)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("transference-index-{}", std::process::id()));
    let dir = tmp.join("files");
    let files = write_small_files(&dir, INDEX_FILES);
    let p = Pipeline::open(bundle, DeviceRequest::Cpu).expect("open models/digits");
    let args = |out: &str| IndexArgs {
        dir: dir.clone(),
        out: tmp.join(out),
        label_from_name: false,
        restart: false,
        chunk_files: INDEX_CHUNK_FILES,
        stop_after_chunks: None,
    };
    println!(
        "\n## index throughput ({INDEX_FILES} files: 28x28 PNG and 0.5 s WAV alternating, models/digits, CPU, {} threads)",
        rayon::current_num_threads()
    );
    let _ = index(&p, &args("warm-up"), false).unwrap(); // first use of each batch shape
    let t = Instant::now();
    let report = index(&p, &args("straight"), false).unwrap();
    let whole = t.elapsed().as_secs_f64();
    let whole_rate = INDEX_FILES as f64 / whole;
    assert_eq!(report.items, INDEX_FILES);
    let t = Instant::now();
    for f in &files {
        std::hint::black_box(p.encode(&InputSource::File(f.clone())).unwrap());
    }
    let one_rate = INDEX_FILES as f64 / t.elapsed().as_secs_f64();
    println!(
        "index (chunks of {INDEX_CHUNK_FILES}, journal, gallery write): {whole:.2} s = {whole_rate:.0} items/s (encoding alone {:.0} items/s)",
        report.items_per_second()
    );
    println!(
        "one Pipeline::encode per file:               {one_rate:.0} items/s -> index/one-by-one = {:.1}x",
        whole_rate / one_rate
    );
    let mut stopping = args("resumed");
    let half = INDEX_FILES.div_ceil(INDEX_CHUNK_FILES) / 2;
    stopping.stop_after_chunks = Some(half);
    let t = Instant::now();
    assert!(index(&p, &stopping, false).is_err());
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let resumed = index(&p, &args("resumed"), false).unwrap();
    let second = t.elapsed().as_secs_f64();
    println!(
        "interrupted after {half} of {} chunks ({first:.2} s), resumed ({} chunks read back from the journal) in {second:.2} s: {:.2} s in all = {:.2}x the straight run",
        resumed.chunks,
        resumed.resumed_chunks,
        first + second,
        (first + second) / whole
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Clusters of the clustered rows of [`approx_search`], and their seed.
const CLUSTERS: usize = 1_000;
const CLUSTER_SEED: u64 = 5;

/// `count` queries near the centres of `clustered_unit_rows(_, d, clusters, seed)` (query i
/// near centre i), with noise drawn apart from the rows'.
fn clustered_queries(count: usize, d: usize, clusters: usize, seed: u64) -> Vec<f32> {
    near_centres(count, d, clusters, seed, seed + 1_000)
}

/// How many of each query's exact top-k rows the approximate hits found, over all queries,
/// as a fraction.
fn recall(approx: &[Vec<Hit>], exact: &[Vec<Hit>]) -> f64 {
    let total: usize = exact.iter().map(Vec::len).sum();
    let found: usize = approx
        .iter()
        .zip(exact)
        .map(|(a, e)| {
            a.iter()
                .filter(|h| e.iter().any(|x| x.index == h.index))
                .count()
        })
        .sum();
    found as f64 / total.max(1) as f64
}

/// The HNSW index against the exact scan, 64 queries of top-10 over `n` x 256 rows, uniformly
/// random (no structure: the hardest case for a graph) and in 1,000 clusters: build seconds,
/// query latency and recall@10. Run alone with `-- --approx-only` (100k) or
/// `-- --approx-only --approx-1m` (100k and 1M).
/// `with_random`: also uniformly random rows (HNSW's worst case), not only clustered ones.
pub fn approx_search(runs: usize, sizes: &[usize], with_random: bool) {
    let d = 256usize;
    let settings = HnswSettings::default();
    println!(
        "\n## approximate index (HNSW via instant-distance, M 32, ef_construction {}, ef_search {}; CPU, {} threads)",
        settings.ef_construction,
        settings.ef_search,
        rayon::current_num_threads()
    );
    for &n in sizes {
        let kinds: &[&str] = if with_random {
            &["random", "clustered"]
        } else {
            &["clustered"]
        };
        for &kind in kinds {
            let (base, q) = match kind {
                "random" => (random_unit_rows(n, d, 2), random_unit_rows(64, d, 3)),
                _ => (
                    clustered_unit_rows(n, d, CLUSTERS, CLUSTER_SEED),
                    clustered_queries(64, d, CLUSTERS, CLUSTER_SEED),
                ),
            };
            let exact = ExactIndex::new(Rows::F32(&base), d).unwrap();
            let exact_lat = time_ms(runs, || exact.top_k(&q, 10).unwrap());
            let t = Instant::now();
            let hnsw = HnswIndex::build(Rows::F32(&base), d, settings).unwrap();
            let build_secs = t.elapsed().as_secs_f64();
            let approx_lat = time_ms(runs, || hnsw.top_k(&q, 10).unwrap());
            let r = recall(&hnsw.top_k(&q, 10).unwrap(), &exact.top_k(&q, 10).unwrap());
            println!(
                "{n} x {d} {kind}: build {build_secs:.1} s ({:.0} rows/s); 64 queries top-10: hnsw {approx_lat}, exact {exact_lat} -> hnsw/exact p50 = {:.3}; recall@10 vs exact = {r:.3}",
                n as f64 / build_secs,
                approx_lat.p50_ms / exact_lat.p50_ms
            );
        }
    }
}
