//! Release-build timing of the exact top-10 kernel (f32 and f16 rows) for 64 queries x 256
//! dims over 100k and 1M rows, against numpy (`Q @ X.T`, `argpartition`, sort of the 10) and
//! faiss `IndexFlatIP` on the same data in the same run. See Cargo.toml for how to run it.

// Only the kernel is used here; the rest of those files serves the main crate.
#[allow(dead_code)]
mod index;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use index::rows::Rows;

const DIM: usize = 256;
const QUERIES: usize = 64;
const K: usize = 10;

fn unit_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut v: Vec<f32> = (0..n * d)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    for r in v.chunks_exact_mut(d) {
        let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        r.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn write_npy(path: &Path, data: &[f32], rows: usize, cols: usize) {
    let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}")
        .into_bytes();
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

fn p50_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut ts: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(|a, b| a.total_cmp(b));
    ts[ts.len() / 2]
}

/// numpy's and faiss's p50 in ms (faiss `None` when it cannot be imported).
fn references(q: &Path, b: &Path, runs: usize) -> (Option<f64>, Option<f64>) {
    let script = format!(
        "import numpy as np, time\nq=np.load('{q}'); b=np.load('{b}')\ndef f():\n    s=q@b.T\n    i=np.argpartition(-s,{K},axis=1)[:,:{K}]\n    v=np.take_along_axis(s,i,axis=1)\n    o=np.argsort(-v,axis=1)\n    return np.take_along_axis(i,o,axis=1)\ndef p50(g):\n    g(); ts=[]\n    for _ in range({runs}):\n        t=time.perf_counter(); g(); ts.append((time.perf_counter()-t)*1000)\n    ts.sort(); return ts[len(ts)//2]\nprint(p50(f))\ntry:\n    import faiss\n    x=faiss.IndexFlatIP(b.shape[1]); x.add(b)\n    print(p50(lambda: x.search(q,{K})))\nexcept ImportError as e:\n    print('faiss', e)",
        q = q.display(),
        b = b.display()
    );
    let Ok(out) = Command::new("python3").arg("-c").arg(script).output() else {
        return (None, None);
    };
    if !out.status.success() {
        eprintln!(
            "numpy reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return (None, None);
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let numpy = lines.next().and_then(|l| l.trim().parse().ok());
    let faiss = lines.next().and_then(|l| l.trim().parse().ok());
    (numpy, faiss)
}

fn main() {
    let tmp = std::env::temp_dir().join(format!("search-kernel-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp folder");
    let q = unit_rows(QUERIES, DIM, 3);
    let qp = tmp.join("q.npy");
    write_npy(&qp, &q, QUERIES, DIM);
    println!(
        "exact top-{K}, {QUERIES} queries x {DIM} dims, release build, {} threads",
        rayon::current_num_threads()
    );
    for n in [100_000usize, 1_000_000] {
        let runs = if n > 100_000 { 5 } else { 10 };
        let b = unit_rows(n, DIM, 2);
        let b16: Vec<half::f16> = b.iter().map(|&x| half::f16::from_f32(x)).collect();
        let run = |rows: Rows<'_>| {
            p50_ms(runs, || {
                std::hint::black_box(index::exact::top_k_exact(&q, rows, DIM, K).expect("finite"));
            })
        };
        let (t32, t16) = (run(Rows::F32(&b)), run(Rows::F16(&b16)));
        let bp = tmp.join("b.npy");
        write_npy(&bp, &b, n, DIM);
        let (numpy, faiss) = references(&qp, &bp, runs);
        let ratio = |t: f64, r: Option<f64>| r.map_or("n/a".into(), |r| format!("{:.2}", t / r));
        println!(
            "{n:>9} rows: exact f32 {t32:8.1} ms, f16 {t16:8.1} ms | numpy {} ms (f32/numpy {}) | faiss {} ms (f32/faiss {})",
            numpy.map_or("n/a".into(), |v| format!("{v:.1}")),
            ratio(t32, numpy),
            faiss.map_or("n/a".into(), |v| format!("{v:.1}")),
            ratio(t32, faiss),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
