//! Fixtures shared by the tests of the data modules: tiny MNIST and FSDD source trees, a
//! prepared data folder, and tarballs built in the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use walkdir::WalkDir;

use super::{DataOptions, DataSummary, MNIST_PIXELS, prepare};

/// A 28x28 digit with a bar at row/column `pos`.
pub(super) fn bar_digit(pos: usize, vertical: bool) -> Vec<f32> {
    let mut v = vec![0.0f32; MNIST_PIXELS];
    for a in 4..24 {
        for b in pos..pos + 3 {
            let (y, x) = if vertical { (a, b) } else { (b, a) };
            v[y * 28 + x] = 1.0;
        }
    }
    v
}

pub(super) fn write_tone(path: &Path, freq: f64, secs: f64, amp: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    let n = (secs * 8000.0) as usize;
    for i in 0..n {
        let s = amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin();
        w.write_sample((s * 32767.0) as i16).expect("sample");
    }
    w.finalize().expect("finalize");
}

/// Every file under `dir` with its size and modification time.
pub(super) fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out: Vec<_> = WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let m = e.metadata().expect("metadata");
            (e.into_path(), m.len(), m.modified().expect("mtime"))
        })
        .collect();
    out.sort();
    out
}

/// A tiny source tree: MNIST digits 0 (wrapped flat layout) and 1 (nested arrays, one
/// blank item), and FSDD tones of george and jackson plus a silent clip and a bad name.
pub(super) fn make_sources(root: &Path) -> (PathBuf, PathBuf) {
    let digits = root.join("mnist").join("src").join("digits");
    std::fs::create_dir_all(&digits).expect("mkdir");
    let zero: Vec<f32> = (0..5).flat_map(|i| bar_digit(6 + 3 * i, false)).collect();
    std::fs::write(
        digits.join("0.json"),
        serde_json::to_string(&serde_json::json!({ "data": zero })).expect("json"),
    )
    .expect("write 0.json");
    let mut one: Vec<Vec<f32>> = (0..5).map(|i| bar_digit(6 + 3 * i, true)).collect();
    one[2] = vec![0.0; MNIST_PIXELS];
    std::fs::write(
        digits.join("1.json"),
        serde_json::to_string(&one).expect("json"),
    )
    .expect("write 1.json");

    let rec = root.join("fsdd").join("recordings");
    std::fs::create_dir_all(&rec).expect("mkdir");
    for (name, freq) in [
        ("0_george_0.wav", 300.0),
        ("1_george_0.wav", 600.0),
        ("0_jackson_0.wav", 320.0),
        ("1_jackson_0.wav", 620.0),
        ("1_jackson_1.wav", 640.0),
    ] {
        write_tone(&rec.join(name), freq, 0.4, 0.5);
    }
    write_tone(&rec.join("0_jackson_1.wav"), 300.0, 0.4, 0.0);
    write_tone(&rec.join("bad-name.wav"), 300.0, 0.4, 0.5);
    std::fs::write(rec.join("README.txt"), "not audio").expect("readme");
    (root.join("mnist"), rec)
}

pub(super) fn prepare_tiny(root: &Path) -> (DataSummary, PathBuf) {
    let (mnist, fsdd) = make_sources(root);
    let out = root.join("out").join("digits");
    let opts = DataOptions {
        mnist: Some(mnist),
        fsdd: Some(fsdd),
        fonts: None,
        synth: false,
        speech_weights: Some(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(super::DEFAULT_SPEECH_WEIGHTS),
        ),
        ..DataOptions::new(&out)
    };
    let before = snapshot(root);
    let summary = prepare(&opts).expect("prepare");
    let after: Vec<_> = snapshot(root)
        .into_iter()
        .filter(|(p, ..)| !p.starts_with(&out))
        .collect();
    assert_eq!(before, after, "files outside DIR changed");
    (summary, out)
}

/// Writes a gzip-compressed tarball at `path` holding the regular `files` (path, bytes) and
/// the symbolic `links` (path, target). Paths are written as given, unchecked, so a test can
/// build hostile archives (`..`, absolute paths).
pub(super) fn tar_gz(path: &Path, files: &[(&str, &[u8])], links: &[(&str, &str)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).expect("create tarball"),
        flate2::Compression::fast(),
    );
    let mut builder = tar::Builder::new(gz);
    let raw_name = |header: &mut tar::Header, name: &str| {
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
    };
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        raw_name(&mut header, name);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *bytes).expect("append file");
    }
    for (name, target) in links {
        let mut header = tar::Header::new_gnu();
        raw_name(&mut header, name);
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name(target).expect("link name");
        header.set_cksum();
        builder
            .append(&header, std::io::empty())
            .expect("append link");
    }
    let mut gz = builder.into_inner().expect("finish tar");
    gz.flush().expect("flush");
    gz.finish().expect("finish gzip");
}
