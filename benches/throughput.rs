//! Throughput and latency of the core, printed as a table with ratios against references
//! measured in the same run (numpy for batched top-k). Run with
//! `cargo bench --bench throughput` (release profile) or `-- --quick`.
//!
//! Targets (release build, CPU backend): one input -> codes + embedding + zero-shot + top-10
//! over a 10k gallery <= 15 ms p50 (image, audio), <= 25 ms (text); batched top-10 over
//! 100k x 256 no slower than numpy matmul + argpartition; CLI peak memory with a MiniLM
//! bundle <= 600 MB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use transference::device::{ComputeDevice, DeviceRequest};
use transference::engine::{InputSource, Pipeline};
use transference::index::search::{DeviceIndex, top_k_cpu};
use transference::model::tensor_from_vec;
use transference::preprocess::mnist::MNIST_SIDE_PX;

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn time_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    let _ = f(); // warm-up (first use of a shape may compile kernels)
    median_ms(
        (0..runs)
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

/// numpy matmul + argpartition top-10 on the same data, median ms, or None without numpy.
fn numpy_top_k_ms(queries: &Path, base: &Path, runs: usize) -> Option<f64> {
    let script = format!(
        "import numpy as np, time\nq=np.load('{}'); b=np.load('{}')\ndef f():\n    s=q@b.T\n    i=np.argpartition(-s,10,axis=1)[:,:10]\n    return np.take_along_axis(s,i,axis=1)\nf()\nts=[]\nfor _ in range({runs}):\n    t=time.perf_counter(); f(); ts.append((time.perf_counter()-t)*1000)\nts.sort(); print(ts[len(ts)//2])",
        queries.display(),
        base.display()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
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
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 5 } else { 30 };
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
    for device in &devices {
        println!("\n## device: {}", device.description);
        // Single-input latency through the real pipeline (bundle's gallery replaced by 10k items).
        if bundle.join("manifest.toml").exists() {
            let mut p = Pipeline::open_on(&bundle, device.clone()).expect("open models/digits");
            let labels = p.bundle.manifest.labels.names.clone();
            let templates = p.bundle.manifest.labels.prompts.clone();
            let _ = p.class_embeddings(&labels, &templates);
            let index = DeviceIndex::new(&gallery, d, &device.device).unwrap();
            let png = tmp.join("digit.png");
            let mut img = image::GrayImage::new(MNIST_SIDE_PX, MNIST_SIDE_PX);
            for y in 5..23 {
                for x in 12..16 {
                    img.put_pixel(x, y, image::Luma([255]));
                }
            }
            img.save(&png).unwrap();
            let wav = tmp.join("tone.wav");
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&wav, spec).unwrap();
            for i in 0..5000 {
                let t = i as f32 / 8000.0;
                w.write_sample(
                    ((t * 440.0 * std::f32::consts::TAU).sin() * 9000.0 * (1.0 - t)) as i16,
                )
                .unwrap();
            }
            w.finalize().unwrap();
            for (name, input, target_ms) in [
                ("image", InputSource::File(png.clone()), 15.0),
                ("audio", InputSource::File(wav.clone()), 15.0),
                ("text", InputSource::Text("the digit seven".into()), 25.0),
            ] {
                let ms = time_ms(runs, || {
                    let e = p.encode(&input).unwrap();
                    let z = p.classify(&e.item.embedding, &labels, &templates).unwrap();
                    let hits = index.top_k(&e.item.embedding, 10).unwrap();
                    (e.item.codes.len(), z.len(), hits.len())
                });
                println!(
                    "one {name:5} -> codes + embedding + zero-shot + top-10/10k: p50 {ms:7.2} ms (target <= {target_ms} ms: {})",
                    if ms <= target_ms { "met" } else { "NOT met" }
                );
            }
            // VQ lookup alone: 64 x 16 positions against the codebook.
            let k = p.bundle.manifest.architecture.codebook_size;
            let x = random_unit_rows(64 * 16, d, 5);
            let ms = time_ms(runs, || {
                let t = tensor_from_vec(x.clone(), [64, 16, d], &device.device);
                transference::model::int_to_vec(p.bundle.model.codebook.quantize(t).codes)
            });
            println!("VQ lookup 1024 positions x {k} codes: p50 {ms:.2} ms");
        } else {
            println!("(models/digits missing: single-input latency skipped)");
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
            let dev_ms = time_ms(runs.min(10), || index.top_k(&q, 10).unwrap());
            let cpu_ms = time_ms(runs.min(5), || top_k_cpu(&q, &base, d, 10).unwrap());
            let qp = tmp.join("q.npy");
            let bp = tmp.join(format!("b{n}.npy"));
            write_npy(&qp, &q, [64, d]);
            write_npy(&bp, &base, [n, d]);
            match numpy_top_k_ms(&qp, &bp, runs.min(10)) {
                Some(np_ms) => println!(
                    "top-10, 64 queries over {n} x {d}: device {dev_ms:8.2} ms, plain CPU loop {cpu_ms:8.2} ms, numpy {np_ms:8.2} ms -> device/numpy = {:.2}{}",
                    dev_ms / np_ms,
                    if n == 100_000 {
                        if dev_ms <= np_ms {
                            " (target met)"
                        } else {
                            " (target NOT met)"
                        }
                    } else {
                        ""
                    }
                ),
                None => println!(
                    "top-10, 64 queries over {n} x {d}: device {dev_ms:.2} ms, plain CPU loop {cpu_ms:.2} ms (numpy not available for the reference)"
                ),
            }
        }
    }
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
    let _ = std::fs::remove_dir_all(&tmp);
}
