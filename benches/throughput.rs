//! Throughput and latency of the core, printed as a table (p50 and p95 over the runs) with
//! ratios against references measured in the same run (numpy for batched top-k, whose indices
//! are also checked against the Rust ones; faiss `IndexFlatIP` when `import faiss` works). Run
//! with `cargo bench --bench throughput` (release profile) or `-- --quick` (fewer runs);
//! `-- --prepare-only` times only the preparation of a real-size photo and recording;
//! `-- --latency-only` that and one input of each kind through the pipeline
//! (benches/throughput/latency.rs, with the replaced model's audio path beside it);
//! `-- --search-only` runs only the search-at-scale section (exact top-10 over 100k and 1M x
//! 256 rows, f32 and f16, and the open time of a memory-mapped 1M x 256 gallery).
//!
//! Inputs: a small digit and a short 8 kHz clip, and real-size ones generated here: a
//! 12-megapixel JPEG photo (4000 x 3000) and a 48 kHz stereo 16-bit WAV recording.
//!
//! Targets (release build, CPU backend): one input -> codes + embedding + zero-shot + top-10
//! over a 10k gallery <= 15 ms p50 (image, audio), <= 25 ms (text); batched top-10 over
//! 100k x 256 no slower than numpy matmul + argpartition; CLI peak memory with a MiniLM
//! bundle <= 600 MB. Search at scale: the exact CPU top-10 for 64 queries over 100k and 1M x 256
//! in at most half numpy's time (matmul + argpartition + sort of the 10); a 1M x 256 gallery
//! opens (maps) in <= 2 s.
//!
//! `-- --maps-only` times the t-SNE and UMAP maps alone (10k 256-d clustered points, and 100k
//! with `--maps-100k`, minutes even in release, t-SNE on all cores only), then shows the
//! refusal past `MAX_PROJECTION_POINTS`.
//!
//! `-- --map-scale-only` runs the map-at-scale section alone (benches/throughput/map_scale.rs:
//! map frame time at 100k and 1M points, raster time per view, and opening a 1M x 256
//! vectors-only bundle to its first map frame);
//! `-- --inspect-only` runs the inspecting-at-scale section alone
//! (benches/throughput/inspect_scale.rs: window frame time with a code page open and with a
//! second model compared, 100k gallery items per model, 4,096 codes; target p95 <= 16 ms);
//! `-- --index-only` times `transference index` in items per second (see [`scale`]);
//! `-- --approx-only` times the approximate (HNSW) index against the exact scan at 100k x 256
//! (build seconds, query time, recall@10), and at 1M too with `--approx-1m` (minutes of build);
//! `--approx-clustered` skips the uniformly random rows (HNSW's worst case, the slowest build).

#[path = "throughput/inspect_scale.rs"]
mod inspect_scale;
#[path = "throughput/latency.rs"]
mod latency;
#[path = "throughput/map_scale.rs"]
mod map_scale;
#[path = "throughput/scale.rs"]
mod scale;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use transference::device::{ComputeDevice, DeviceRequest};
use transference::engine::InputSource;
use transference::index::search::{DeviceIndex, Hit, top_k_cpu};
use transference::preprocess::audio::{AudioConfig, prepare_wav_file};
use transference::preprocess::image::{
    ImageConfig, MNIST_DECODE_MIN_SIDE_PX, load_image, load_image_gray, prepare_image,
    prepare_image_file,
};

/// Real-size photo: 12 megapixels.
const PHOTO_SIZE_PX: (u32, u32) = (4000, 3000);
/// Real-size recording: 48 kHz stereo.
const RECORDING_RATE_HZ: u32 = 48_000;
/// Length of the real-size recording, in seconds (within the default 4 s clip limit).
const RECORDING_SECS: f64 = 3.0;

/// Latency percentiles of one measurement, in milliseconds.
#[derive(Clone, Copy, Debug)]
struct Latency {
    p50_ms: f64,
    p95_ms: f64,
    runs: usize,
}

impl Latency {
    /// Nearest-rank percentiles of the samples (at least one).
    fn of(mut samples_ms: Vec<f64>) -> Self {
        samples_ms.sort_by(|a, b| a.total_cmp(b));
        let rank = |q: f64| {
            let i = (q * samples_ms.len() as f64).ceil() as usize;
            samples_ms[i.clamp(1, samples_ms.len()) - 1]
        };
        Latency {
            p50_ms: rank(0.50),
            p95_ms: rank(0.95),
            runs: samples_ms.len(),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:8.2} ms, p95 {:8.2} ms ({} runs)",
            self.p50_ms, self.p95_ms, self.runs
        )
    }
}

fn time_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> Latency {
    let _ = f(); // warm-up (first use of a shape may compile kernels)
    Latency::of(
        (0..runs.max(1))
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn random_unit_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut v: Vec<f32> = (0..n * d)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    transference::index::l2_normalize_rows(&mut v, d);
    v
}

/// A 12-megapixel JPEG: a dark "7" on uneven, noisy paper, as a phone would photograph it.
fn write_photo(path: &Path) {
    let (w, h) = PHOTO_SIZE_PX;
    let mut noise = 0x9e37_79b9_7f4a_7c15u64;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 7;
        noise ^= noise << 17;
        let n = ((noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 12.0;
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let top_bar = (0.35..0.65).contains(&u) && (0.25..0.31).contains(&v);
        let stem_x = 0.65 - (v - 0.25) * 0.45;
        let stem = (0.25..0.80).contains(&v) && (u - stem_x).abs() < 0.025;
        let paper = 200.0 + 30.0 * u + 15.0 * v;
        let level = if top_bar || stem { 40.0 } else { paper } + n;
        let g = level.clamp(0.0, 255.0) as u8;
        image::Rgb([g, g.saturating_sub(4), g.saturating_sub(10)])
    });
    img.save(path).expect("write the 12-megapixel JPEG");
}

/// A 48 kHz stereo 16-bit WAV: a falling two-tone chirp, a little louder on the left.
fn write_recording(path: &Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RECORDING_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the 48 kHz WAV");
    let n = (f64::from(RECORDING_RATE_HZ) * RECORDING_SECS) as usize;
    for i in 0..n {
        let t = i as f64 / f64::from(RECORDING_RATE_HZ);
        let f = 900.0 - 200.0 * t;
        let x = (t * f * std::f64::consts::TAU).sin() * 0.6
            + (t * 2.3 * f * std::f64::consts::TAU).sin() * 0.2;
        let env = (t * 8.0).min(1.0) * (1.0 - t / RECORDING_SECS);
        for gain in [1.0, 0.8] {
            w.write_sample((x * env * gain * 20_000.0) as i16)
                .expect("write a sample");
        }
    }
    w.finalize().expect("finish the 48 kHz WAV");
}

fn write_npy(path: &Path, data: &[f32], shape: [usize; 2]) {
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        shape[0], shape[1]
    );
    let mut h = header.into_bytes();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, out).expect("write npy");
}

/// numpy's answer for the batched top-10: its latency and, per query, the indices it found.
struct NumpyTopK {
    latency: Latency,
    indices: Vec<Vec<usize>>,
}

/// Whether `python3 -c "import numpy"` works; prints a loud banner on stderr when it does not.
fn numpy_available() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import numpy")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "\n{bar}\n!! numpy NOT AVAILABLE (python3 -c 'import numpy' failed):\n!! the batched top-k \
             reference timings and the Rust-vs-numpy agreement check are SKIPPED.\n{bar}\n",
            bar = "!".repeat(78)
        );
    }
    ok
}

/// numpy matmul + argpartition top-10 + sort of the 10 on the same data, `runs` timed runs;
/// `None` when the script fails.
fn numpy_top_k(queries: &Path, base: &Path, runs: usize) -> Option<NumpyTopK> {
    let script = format!(
        "import numpy as np, time\nq=np.load('{}'); b=np.load('{}')\ndef f():\n    s=q@b.T\n    i=np.argpartition(-s,10,axis=1)[:,:10]\n    v=np.take_along_axis(s,i,axis=1)\n    o=np.argsort(-v,axis=1)\n    return np.take_along_axis(i,o,axis=1), np.take_along_axis(v,o,axis=1)\nf()\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter(); f(); ts.append((time.perf_counter()-t)*1000)\nprint(' '.join(map(str,ts)))\ni,_=f()\nfor row in i: print(' '.join(map(str,sorted(row.tolist()))))",
        queries.display(),
        base.display()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "numpy top-k script failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let times: Vec<f64> = lines
        .next()?
        .split_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let indices: Vec<Vec<usize>> = lines
        .map(|l| l.split_whitespace().map(|t| t.parse().ok()).collect())
        .collect::<Option<_>>()?;
    (!times.is_empty()).then(|| NumpyTopK {
        latency: Latency::of(times),
        indices,
    })
}

/// How many queries have exactly the same top-k set of rows in `hits` as in `reference`.
fn agreeing_queries(hits: &[Vec<Hit>], reference: &[Vec<usize>]) -> usize {
    hits.iter()
        .zip(reference)
        .filter(|(h, r)| {
            let mut got: Vec<usize> = h.iter().map(|x| x.index).collect();
            got.sort_unstable();
            got == **r
        })
        .count()
}

/// faiss `IndexFlatIP` top-10 latency on the same files (the index is built outside the timing),
/// or why it could not run (`import faiss` failing is reported, not fatal).
fn faiss_top_k(queries: &Path, base: &Path, runs: usize) -> std::result::Result<Latency, String> {
    let script = format!(
        "import numpy as np, time, faiss\nq=np.load('{}'); b=np.load('{}')\nx=faiss.IndexFlatIP(b.shape[1]); x.add(b)\nx.search(q,10)\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter(); x.search(q,10); ts.append((time.perf_counter()-t)*1000)\nprint(' '.join(map(str,ts)))",
        queries.display(),
        base.display()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    if times.is_empty() {
        return Err("no timings printed".into());
    }
    Ok(Latency::of(times))
}

/// Search at scale (CPU): the fused exact top-10 (f32 and f16 rows) against numpy and faiss
/// on the same data, and the time to open a memory-mapped 1M x 256 gallery.
fn search_at_scale(tmp: &Path, runs: usize, have_numpy: bool) {
    use transference::bundle::embedding_store::EmbeddingStore;
    use transference::bundle::gallery::{EMBEDDINGS_TENSOR, GALLERY_TENSORS};
    use transference::bundle::{Gallery, GalleryItem};
    use transference::index::{ExactIndex, GalleryIndex as _, RowDtype, Rows};
    let d = 256usize;
    let q = random_unit_rows(64, d, 3);
    let qp = tmp.join("scale-q.npy");
    write_npy(&qp, &q, [64, d]);
    println!(
        "\n## search at scale (CPU, {} threads)",
        rayon::current_num_threads()
    );
    for n in [100_000usize, 1_000_000] {
        let runs = if n >= 1_000_000 {
            runs.min(5)
        } else {
            runs.min(10)
        };
        let base = random_unit_rows(n, d, 2);
        let base16: Vec<half::f16> = base.iter().map(|&v| half::f16::from_f32(v)).collect();
        let exact = time_ms(runs, || top_k_cpu(&q, &base, d, 10).unwrap());
        let idx16 = ExactIndex::new(Rows::F16(&base16), d).unwrap();
        let exact16 = time_ms(runs, || idx16.top_k(&q, 10).unwrap());
        println!("top-10, 64 queries over {n} x {d}: exact f32 {exact}");
        println!("top-10, 64 queries over {n} x {d}: exact f16 {exact16}");
        if !have_numpy {
            println!(
                "top-10, 64 queries over {n} x {d}: numpy/faiss SKIPPED (numpy not available)"
            );
            continue;
        }
        let bp = tmp.join(format!("scale-b{n}.npy"));
        write_npy(&bp, &base, [n, d]);
        match numpy_top_k(&qp, &bp, runs) {
            Some(np) => {
                let ratio = exact.p50_ms / np.latency.p50_ms;
                println!(
                    "top-10, 64 queries over {n} x {d}: numpy     {} -> exact/numpy p50 = {ratio:.2} (target <= 0.5: {})",
                    np.latency,
                    if ratio <= 0.5 { "met" } else { "NOT met" }
                );
                let hits = top_k_cpu(&q, &base, d, 10).unwrap();
                let ok = agreeing_queries(&hits, &np.indices);
                println!(
                    "top-10 sets equal to numpy's: exact {ok}/{} queries",
                    np.indices.len()
                );
            }
            None => eprintln!("!! numpy top-k reference FAILED to run for {n} x {d}"),
        }
        match faiss_top_k(&qp, &bp, runs) {
            Ok(lat) => println!(
                "top-10, 64 queries over {n} x {d}: faiss     {lat} -> exact/faiss p50 = {:.2}",
                exact.p50_ms / lat.p50_ms
            ),
            Err(why) => println!("top-10, 64 queries over {n} x {d}: faiss     SKIPPED ({why})"),
        }
        let _ = std::fs::remove_file(&bp);
        if n < 1_000_000 {
            continue;
        }
        // Opening a 1M x 256 gallery: the tensor file alone (what `search` maps) and the whole
        // gallery (items.json and codes too).
        let items: Vec<GalleryItem> = (0..n)
            .map(|i| GalleryItem {
                modality: transference::Modality::Image,
                label: None,
                source: format!("r{i}"),
                media: None,
                text: None,
            })
            .collect();
        let g = Gallery {
            dir: tmp.to_path_buf(),
            items,
            embeddings: base.into(),
            dim: d,
            codes: vec![vec![1, 2, 3, 4]; n],
            positions: vec![vec![0, 1, 2, 3]; n],
        };
        for dtype in [RowDtype::F32, RowDtype::F16] {
            let gdir = tmp.join(format!("gallery-{dtype}"));
            std::fs::create_dir_all(&gdir).unwrap();
            g.write_as(&gdir, dtype).unwrap();
            let file = gdir.join(GALLERY_TENSORS);
            let open = time_ms(3, || {
                EmbeddingStore::open(&file, EMBEDDINGS_TENSOR, None, Some(d)).unwrap()
            });
            let read = time_ms(1, || Gallery::read(&gdir, d, 8).unwrap());
            println!(
                "open a {n} x {d} {dtype} gallery: tensor map {open} (target <= 2000 ms: {}); whole gallery incl. items.json {read}",
                if open.p50_ms <= 2000.0 {
                    "met"
                } else {
                    "NOT met"
                }
            );
            let _ = std::fs::remove_dir_all(&gdir);
        }
    }
}

fn peak_rss_mb(args: &[&str]) -> Option<f64> {
    let exe = env!("CARGO_BIN_EXE_transference");
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(exe)
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("Maximum resident set size"))?;
    let kb: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--map-scale-only") {
        map_scale_section();
        return;
    }
    if std::env::args().any(|a| a == "--inspect-only") {
        inspect_scale::inspect_frames();
        return;
    }
    if std::env::args().any(|a| a == "--maps-only") {
        maps();
        return;
    }
    if std::env::args().any(|a| a == "--many-only") {
        many_inputs(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits"));
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--index-only") {
        scale::index_throughput(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits"));
        return;
    }
    let approx_sizes: &[usize] = if std::env::args().any(|a| a == "--approx-1m") {
        &[100_000, 1_000_000]
    } else {
        &[100_000]
    };
    let approx_runs = if quick { 5 } else { 10 };
    let approx_random = !std::env::args().any(|a| a == "--approx-clustered");
    if std::env::args().any(|a| a == "--approx-only") {
        scale::approx_search(approx_runs, approx_sizes, approx_random);
        return;
    }
    let search_only = std::env::args().any(|a| a == "--search-only");
    let latency_only = std::env::args().any(|a| a == "--latency-only");
    let prepare_only = std::env::args().any(|a| a == "--prepare-only");
    // Enough runs for a p95 that is not just the maximum.
    let runs = if quick { 20 } else { 60 };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bundle = repo.join("models/digits");
    let tmp = std::env::temp_dir().join(format!("transference-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    println!(
        "transference throughput bench ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let mut devices = vec![ComputeDevice::cpu("")];
    if let Ok(gpu) = transference::device::resolve(DeviceRequest::Auto)
        && gpu.is_gpu()
    {
        devices.push(gpu);
    }
    let (d, gallery_n) = (256usize, 10_000usize);
    let gallery = random_unit_rows(gallery_n, d, 1);
    let have_numpy = numpy_available();
    if search_only {
        search_at_scale(&tmp, runs, have_numpy);
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }

    // Preprocessing alone on real-size inputs (default configs, the digits model's).
    let photo = tmp.join("photo-12mp.jpg");
    let recording = tmp.join("recording-48k-stereo.wav");
    write_photo(&photo);
    write_recording(&recording);
    let (image_cfg, audio_cfg) = (ImageConfig::default(), AudioConfig::default());
    let real_runs = runs.min(20);
    let lat = time_ms(real_runs, || {
        prepare_image_file(&photo, &image_cfg).unwrap()
    });
    println!(
        "\nprepare a {}x{} JPEG photo (decode + MNIST recipe): {lat}",
        PHOTO_SIZE_PX.0, PHOTO_SIZE_PX.1
    );
    let decode = time_ms(real_runs, || {
        load_image_gray(&photo, MNIST_DECODE_MIN_SIDE_PX).unwrap()
    });
    println!(
        "  of which decoding the JPEG's luma plane at the recipe's reduced scale (what it reads): {decode}"
    );
    // Reference, same run: the full-size colour decode the recipe used before.
    let colour = time_ms(real_runs, || {
        prepare_image(&load_image(&photo).unwrap(), &image_cfg, &photo).unwrap()
    });
    let decode = time_ms(real_runs, || load_image(&photo).unwrap());
    println!(
        "  reference: the same from a colour decode {colour} (decoding alone {decode}); luma path / colour path at p50: {:.2}",
        lat.p50_ms / colour.p50_ms
    );
    let lat = time_ms(real_runs, || {
        prepare_wav_file(&recording, &audio_cfg).unwrap()
    });
    println!(
        "prepare a {RECORDING_SECS} s {} kHz stereo WAV (decode + resample + log-mel): {lat}",
        RECORDING_RATE_HZ / 1000
    );
    if prepare_only {
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    for device in &devices {
        println!("\n## device: {}", device.description);
        if bundle.join("manifest.toml").exists() {
            latency::single_inputs(&bundle, device, &gallery, d, runs, &tmp, &photo, &recording);
        } else {
            println!("(models/digits missing: single-input latency skipped)");
        }
        if latency_only {
            continue;
        }
        // Batched top-10.
        for n in [10_000usize, 100_000] {
            let base = if n == gallery_n {
                gallery.clone()
            } else {
                random_unit_rows(n, d, 2)
            };
            let q = random_unit_rows(64, d, 3);
            let index = DeviceIndex::new(&base, d, &device.device).unwrap();
            let dev = time_ms(runs.min(20), || index.top_k(&q, 10).unwrap());
            let cpu = time_ms(runs.min(10), || top_k_cpu(&q, &base, d, 10).unwrap());
            println!("top-10, 64 queries over {n} x {d}: device    {dev}");
            println!("top-10, 64 queries over {n} x {d}: CPU loop  {cpu}");
            if !have_numpy {
                println!(
                    "top-10, 64 queries over {n} x {d}: numpy     SKIPPED (numpy not available)"
                );
                continue;
            }
            let qp = tmp.join("q.npy");
            let bp = tmp.join(format!("b{n}.npy"));
            write_npy(&qp, &q, [64, d]);
            write_npy(&bp, &base, [n, d]);
            let Some(np) = numpy_top_k(&qp, &bp, runs.min(20)) else {
                eprintln!("!! numpy top-k reference FAILED to run for {n} x {d}");
                continue;
            };
            let ratio = dev.p50_ms / np.latency.p50_ms;
            let verdict = match (n == 100_000, ratio <= 1.0) {
                (true, true) => " (target met)",
                (true, false) => " (target NOT met)",
                _ => "",
            };
            println!(
                "top-10, 64 queries over {n} x {d}: numpy     {} -> device/numpy p50 = {ratio:.2}{verdict}",
                np.latency
            );
            let dev_hits = index.top_k(&q, 10).unwrap();
            let cpu_hits = top_k_cpu(&q, &base, d, 10).unwrap();
            let (dev_ok, cpu_ok) = (
                agreeing_queries(&dev_hits, &np.indices),
                agreeing_queries(&cpu_hits, &np.indices),
            );
            let total = np.indices.len();
            println!(
                "top-10 sets equal to numpy's: device {dev_ok}/{total}, CPU loop {cpu_ok}/{total} queries"
            );
            if dev_ok < total || cpu_ok < total {
                eprintln!(
                    "!! Rust top-10 DISAGREES with numpy on {} (device) / {} (CPU) of {total} queries over {n} x {d}",
                    total - dev_ok,
                    total - cpu_ok
                );
            }
        }
    }
    if latency_only {
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    search_at_scale(&tmp, runs, have_numpy);
    if bundle.join("manifest.toml").exists() {
        let args = ["info", bundle.to_str().unwrap(), "--device", "cpu"];
        match peak_rss_mb(&args) {
            Some(mb) => println!(
                "\nCLI peak memory, `transference info models/digits` (MiniLM loaded): {mb:.0} MB (target <= 600 MB: {})",
                if mb <= 600.0 { "met" } else { "NOT met" }
            ),
            None => println!("\nCLI peak memory: /usr/bin/time not available"),
        }
    }
    many_inputs(&bundle);
    scale::index_throughput(&bundle);
    scale::approx_search(approx_runs, approx_sizes, approx_random);
    maps();
    map_scale_section();
    inspect_scale::inspect_frames();
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Map frames at 100k and 1M points, raster time, and opening a 1M-item bundle
/// (`--open-only`: just the opening).
fn map_scale_section() {
    if !std::env::args().any(|a| a == "--open-only") {
        map_scale::map_frames();
    }
    let tmp = std::env::temp_dir().join(format!("transference-map-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // `--open-items=N` opens an N-item bundle instead of 1M (0: none).
    let items = std::env::args()
        .find_map(|a| a.strip_prefix("--open-items=")?.parse().ok())
        .unwrap_or(1_000_000);
    if items > 0 {
        map_scale::open_to_first_frame(&tmp, items);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

// Many inputs at once (issue 10)
// ---------------------------------------------------------------------------------------------

/// Small files analysed by the "many inputs" section.
const MANY_FILES: usize = 1_000;

/// 1,000 small files (PNG digits and short WAVs alternating) through the worker with
/// `bundle` on the CPU: one `Job::AnalyzeBatch` (parallel preprocessing, batched encoding,
/// chunked results) against batches of one sent one at a time, each awaited before the next
/// (how the window sent them before, less its frame time). Run alone with
/// `-- --many-only`.
fn many_inputs(bundle: &Path) {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;
    use transference::engine::protocol::BatchItem;
    use transference::engine::{Event, Job, Worker};

    if !bundle.join("manifest.toml").exists() {
        println!("\n(models/digits missing: many-inputs section skipped)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("transference-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = scale::write_small_files(&dir, MANY_FILES);
    let worker = Worker::spawn(|| {});
    worker.submit(Job::Load {
        dir: bundle.to_path_buf(),
        device: DeviceRequest::Cpu,
    });
    let wait = || {
        worker
            .recv_timeout(Duration::from_secs(600))
            .expect("worker went silent")
    };
    let labels = loop {
        match wait() {
            Event::Loaded(summary) => break summary.labels.clone(),
            Event::Loading { .. } => {}
            other => panic!("loading models/digits: {other:?}"),
        }
    };
    let templates = vec!["{label}".to_string()];
    let t0 = Instant::now();
    for (i, p) in files.iter().enumerate() {
        worker.submit(Job::AnalyzeBatch {
            items: vec![BatchItem {
                request_id: i as u64,
                input: InputSource::File(p.clone()),
            }],
            labels: labels.clone(),
            templates: templates.clone(),
            k: 5,
            cancel: Arc::new(AtomicBool::new(false)),
        });
        match wait() {
            Event::AnalyzedChunk(r) if r.iter().all(|r| r.is_ok()) => {}
            other => panic!("{}: {other:?}", p.display()),
        }
    }
    let one_by_one = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    worker.submit(Job::AnalyzeBatch {
        items: files
            .iter()
            .enumerate()
            .map(|(i, p)| BatchItem {
                request_id: i as u64,
                input: InputSource::File(p.clone()),
            })
            .collect(),
        labels,
        templates,
        k: 5,
        cancel: Arc::new(AtomicBool::new(false)),
    });
    let (mut answered, mut chunks) = (0, 0);
    while answered < files.len() {
        match wait() {
            Event::AnalyzedChunk(results) => {
                chunks += 1;
                answered += results.iter().filter(|r| r.is_ok()).count();
                if let Some(Err(f)) = results.iter().find(|r| r.is_err()) {
                    panic!("{}: {}", f.name, f.error.message);
                }
            }
            other => panic!("batch: {other:?}"),
        }
    }
    let batched = t0.elapsed().as_secs_f64();
    println!(
        "\n{MANY_FILES} small files (PNG 28x28 and 0.5 s WAV) through the worker, models/digits, CPU:"
    );
    println!(
        "  one input at a time:        {one_by_one:.2} s ({:.2} ms per file)",
        one_by_one * 1000.0 / MANY_FILES as f64
    );
    println!(
        "  one Job::AnalyzeBatch:      {batched:.2} s ({:.2} ms per file, {chunks} chunks) -> {:.1}x faster",
        batched * 1000.0 / MANY_FILES as f64,
        one_by_one / batched
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `count` unit rows in `clusters` Gaussian clusters (`[count, d]` row-major), each row's
/// cluster centre a random unit vector plus noise of norm about 0.3.
fn clustered_unit_rows(count: usize, d: usize, clusters: usize, seed: u64) -> Vec<f32> {
    near_centres(count, d, clusters, seed, seed + 1)
}

/// Row i is centre `i % clusters` (random unit vectors drawn from `seed`) plus 0.3 times a
/// random unit vector drawn from `noise_seed`, L2-normalised; `[count, d]` row-major.
fn near_centres(count: usize, d: usize, clusters: usize, seed: u64, noise_seed: u64) -> Vec<f32> {
    let centres = random_unit_rows(clusters, d, seed);
    let noise = random_unit_rows(count, d, noise_seed);
    let mut rows = Vec::with_capacity(count * d);
    for i in 0..count {
        let c = &centres[(i % clusters) * d..(i % clusters + 1) * d];
        let e = &noise[i * d..(i + 1) * d];
        rows.extend(c.iter().zip(e).map(|(c, e)| c + 0.3 * e));
    }
    transference::index::l2_normalize_rows(&mut rows, d);
    rows
}

/// t-SNE (one thread: the deterministic default; and all cores) and UMAP at 10k x 256, at
/// 100k with `--maps-100k`, and the refusal past the limit. One run each (seconds to minutes).
fn maps() {
    use transference::index::projection::{
        Flow, MAX_PROJECTION_POINTS, TsneParams, UmapParams, knn_class_agreement,
        nearest_neighbours, tsne_layout, umap_layout,
    };
    /// Points (every n/SAMPLE-th) whose 2-D neighbours are checked for their cluster.
    const SAMPLE: usize = 2_000;
    let agreement = |xy: &[[f32; 2]]| {
        let step = (xy.len() / SAMPLE).max(1);
        let pts: Vec<[f32; 2]> = xy.iter().step_by(step).copied().collect();
        let classes: Vec<usize> = (0..xy.len()).step_by(step).map(|i| i % 20).collect();
        knn_class_agreement(&pts, &classes, 10)
    };
    let d = 256;
    println!("\nGallery maps, {d}-d points in 20 clusters (one run each):");
    // 100k points only with `--maps-100k` (minutes even in release); past the window's limit
    // a map is refused, which the last line shows.
    let large = std::env::args().any(|a| a == "--maps-100k");
    let beyond = clustered_unit_rows(MAX_PROJECTION_POINTS + 1, 8, 20, 7);
    let err = tsne_layout(&beyond, 8, &TsneParams::default(), &mut |_| Flow::Continue)
        .expect_err("past the limit");
    for n in [10_000usize, 100_000] {
        if n > 10_000 && !large {
            println!("  {n} points: skipped (add --maps-100k)");
            continue;
        }
        let rows = clustered_unit_rows(n, d, 20, 7);
        let t0 = Instant::now();
        let _ = nearest_neighbours(&rows, d, 90);
        println!(
            "  {n} points: exact 90 nearest neighbours (part of each map): {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        // One thread is the window's deterministic default; at 100k only all cores.
        let thread_counts: &[usize] = if n > 10_000 { &[0] } else { &[1, 0] };
        for &threads in thread_counts {
            let params = TsneParams {
                threads,
                max_points: n,
                ..Default::default()
            };
            let t0 = Instant::now();
            let xy = tsne_layout(&rows, d, &params, &mut |_| Flow::Continue)
                .unwrap()
                .unwrap();
            let threads = if threads == 1 {
                "1 thread"
            } else {
                "all cores"
            };
            println!(
                "  {n} points: t-SNE perplexity {}, {} epochs, {threads}: {:.1} s (10-NN cluster agreement in 2-D {:.3})",
                params.perplexity,
                params.epochs,
                t0.elapsed().as_secs_f64(),
                agreement(&xy)
            );
        }
        let params = UmapParams {
            max_points: n,
            ..Default::default()
        };
        let t0 = Instant::now();
        let xy = umap_layout(&rows, d, &params, &mut |_| Flow::Continue)
            .unwrap()
            .unwrap();
        println!(
            "  {n} points: UMAP {} neighbours, {} epochs: {:.1} s (10-NN cluster agreement in 2-D {:.3})",
            params.neighbours,
            params.epochs,
            t0.elapsed().as_secs_f64(),
            agreement(&xy)
        );
    }
    println!("  {} points: refused: {err}", MAX_PROJECTION_POINTS + 1);
}
