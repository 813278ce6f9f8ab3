//! `transference index` resumes an interrupted run from its journal and gives the gallery an
//! uninterrupted run gives; it refuses a journal of another file list unless told to restart.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use transference::bundle::Gallery;
use transference::cli::index_cmd::{IndexArgs, index};
use transference::cli::index_journal::{JOURNAL_DIR, JOURNAL_FILE};
use transference::device::DeviceRequest;
use transference::engine::Pipeline;

/// A 28x28 gray PNG with a vertical bar at column `x` (so every file embeds differently).
fn write_bar_png(path: &Path, x: u32) {
    let mut img = image::GrayImage::new(28, 28);
    for y in 4..24 {
        for dx in 0..3 {
            img.put_pixel(x + dx, y, image::Luma([255]));
        }
    }
    img.save(path).unwrap();
}

/// Seven files (six bars, one tone) and a broken PNG (in the second chunk): four chunks of two.
fn write_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..6u32 {
        write_bar_png(&dir.join(format!("{}_bar{i}.png", i % 3)), 3 + 3 * i);
    }
    write_tone_wav(&dir.join("2_tone.wav"));
    std::fs::write(dir.join("0_broken.png"), b"\x89PNG but not really").unwrap();
}

fn args(dir: &Path, out: &Path) -> IndexArgs {
    IndexArgs {
        dir: dir.to_path_buf(),
        out: out.to_path_buf(),
        label_from_name: true,
        restart: false,
        chunk_files: 2,
        stop_after_chunks: None,
    }
}

/// Every file under `dir` (relative path, bytes), sorted.
fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_interrupted_index_resumes_to_the_gallery_of_an_uninterrupted_run() {
    let (tmp, bundle) = tiny_bundle();
    let p = Pipeline::open(&bundle, DeviceRequest::Cpu).unwrap();
    let folder = tmp.path().join("files");
    write_folder(&folder);

    let straight_out = tmp.path().join("straight");
    let straight = index(&p, &args(&folder, &straight_out), false).unwrap();
    assert_eq!((straight.items, straight.chunks), (7, 4));
    assert_eq!(straight.resumed_chunks, 0);
    assert!(
        !straight_out.join(JOURNAL_DIR).exists(),
        "the journal goes once the gallery is in place"
    );

    // Interrupted before its third chunk: two chunks are committed and no gallery is written.
    let out = tmp.path().join("resumed");
    let mut stopping = args(&folder, &out);
    stopping.stop_after_chunks = Some(2);
    assert!(index(&p, &stopping, false).is_err());
    assert!(out.join(JOURNAL_DIR).join(JOURNAL_FILE).is_file());
    assert!(
        !out.join("items.json").exists() && !out.join("gallery.safetensors").exists(),
        "no half-written gallery"
    );

    let resumed = index(&p, &args(&folder, &out), false).unwrap();
    assert_eq!(
        resumed.resumed_chunks, 2,
        "chunks 0 and 1 come from the journal"
    );
    assert_eq!(
        resumed.files_encoded, 4,
        "only chunks 2 and 3 are encoded again"
    );
    assert_eq!(resumed.items, straight.items);
    assert_eq!(
        resumed.skipped.len(),
        1,
        "the skipped file is remembered too"
    );
    assert!(resumed.skipped[0].0.ends_with("0_broken.png"));

    let (a, b) = (
        Gallery::read(&straight_out, TINY_D, TINY_K).unwrap(),
        Gallery::read(&out, TINY_D, TINY_K).unwrap(),
    );
    assert_eq!(a.items, b.items, "same ids, sources, labels and media");
    assert_eq!(a.codes, b.codes);
    for i in 0..a.len() {
        assert_eq!(a.embedding(i), b.embedding(i), "embedding of item {i}");
    }
    assert_eq!(
        files_of(&straight_out),
        files_of(&out),
        "the two gallery folders hold the same files, byte for byte"
    );
}

#[test]
fn a_journal_of_another_file_list_is_refused_until_restart() {
    let (tmp, bundle) = tiny_bundle();
    let p = Pipeline::open(&bundle, DeviceRequest::Cpu).unwrap();
    let folder = tmp.path().join("files");
    write_folder(&folder);
    let out = tmp.path().join("out");
    let mut stopping = args(&folder, &out);
    stopping.stop_after_chunks = Some(1);
    assert!(index(&p, &stopping, false).is_err());

    // Another chunking is another run.
    let mut rechunked = args(&folder, &out);
    rechunked.chunk_files = 3;
    let msg = index(&p, &rechunked, false).unwrap_err().to_string();
    assert!(
        msg.contains("chunks of 2") && msg.contains("--restart"),
        "{msg}"
    );

    write_bar_png(&folder.join("1_new.png"), 20);
    let err = index(&p, &args(&folder, &out), false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("another file list") && msg.contains("--restart"),
        "{msg}"
    );
    assert!(err.is_bad_input());
    assert!(
        out.join(JOURNAL_DIR).join(JOURNAL_FILE).is_file(),
        "a refusal keeps the journal"
    );

    let mut restart = args(&folder, &out);
    restart.restart = true;
    let fresh = index(&p, &restart, false).unwrap();
    assert_eq!(fresh.resumed_chunks, 0);
    assert_eq!(fresh.items, 8, "the new file is in");
    assert_eq!(Gallery::read(&out, TINY_D, TINY_K).unwrap().len(), 8);
}

/// A committed chunk whose files were all skipped reads back as no items and two skips.
#[test]
fn a_chunk_of_only_bad_files_resumes_too() {
    let (tmp, bundle) = tiny_bundle();
    let p = Pipeline::open(&bundle, DeviceRequest::Cpu).unwrap();
    let folder = tmp.path().join("files");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a_broken.png"), b"not a png").unwrap();
    std::fs::write(folder.join("b_broken.png"), b"not a png").unwrap();
    write_bar_png(&folder.join("c_bar.png"), 10);
    let out = tmp.path().join("out");
    let mut stopping = args(&folder, &out);
    stopping.stop_after_chunks = Some(1);
    assert!(index(&p, &stopping, false).is_err());
    let report = index(&p, &args(&folder, &out), false).unwrap();
    assert_eq!(report.resumed_chunks, 1);
    assert_eq!((report.items, report.skipped.len()), (1, 2));
    let g = Gallery::read(&out, TINY_D, TINY_K).unwrap();
    assert_eq!(g.items[0].source, "c_bar.png");
    assert_eq!(g.items[0].media.as_deref(), Some("media/000000.png"));
}
