//! The resume journal of `transference index`: each finished chunk of files is committed to
//! `OUT/.index-journal/`, so an interrupted run (Ctrl-C, a kill, a crash) continues from its
//! last complete chunk when the same command is run again.
//!
//! ```text
//! OUT/.index-journal/
//!   journal.json          what the run is (model, file list, options) and how many chunks are done
//!   chunk-000000/         one finished chunk: items.json, gallery.safetensors, media/, skipped.json
//!   chunk-000001/
//! ```
//! Every file and chunk folder is written through [`crate::safe_write::write_file`] and
//! [`crate::safe_write::replace_dir`], so a chunk is either wholly there or absent. A chunk counts
//! once `journal.json` says so: it is rewritten after its chunk folder is in place. The finished
//! gallery replaces the whole `OUT` folder (journal included) in one rename; until then a
//! previous gallery in `OUT` stays untouched beside the journal. The finished gallery's media
//! files are hard links to the journal's (so each is written and synced once).

use std::hash::Hasher as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::{Gallery, GalleryItem, MANIFEST_FILE};
use crate::engine::Pipeline;
use crate::error::{Error, Result};

/// Journal folder inside the output folder.
pub const JOURNAL_DIR: &str = ".index-journal";
/// Journal file inside [`JOURNAL_DIR`].
pub const JOURNAL_FILE: &str = "journal.json";
/// Files skipped in a chunk (bad inputs), inside its chunk folder.
const SKIPPED_FILE: &str = "skipped.json";
/// Version of the journal layout; a journal of another version is not resumed.
const JOURNAL_FORMAT: u32 = 1;

/// What an index run is: a journal is resumed only by a run with the same identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// FNV-1a 64 of the model's manifest and weights files, hex.
    pub model: String,
    /// FNV-1a 64 of the file list (relative path, size, modification time), hex.
    pub files: String,
    /// Number of files.
    pub file_count: usize,
    /// Files per chunk (a chunk is one batch, so the same chunking gives the same embeddings).
    pub chunk_files: usize,
    /// Whether labels come from file names.
    pub label_from_name: bool,
}

impl RunIdentity {
    /// The identity of indexing `files` (found under `dir`) with `p`.
    pub fn new(
        p: &Pipeline,
        dir: &Path,
        files: &[PathBuf],
        chunk_files: usize,
        label_from_name: bool,
    ) -> Result<Self> {
        let bundle = &p.bundle;
        let mut model = fnv::FnvHasher::default();
        let mut model_files = vec![bundle.dir.join(MANIFEST_FILE)];
        if bundle.manifest.has_codebook() {
            model_files.push(crate::bundle::resolve(
                &bundle.dir,
                &bundle.manifest.weights,
            ));
        }
        for path in &model_files {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            model.write_u64(bytes.len() as u64);
            model.write(&bytes);
        }
        let mut list = fnv::FnvHasher::default();
        for path in files {
            let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
            let modified_nanos = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = path.strip_prefix(dir).unwrap_or(path).to_string_lossy();
            list.write(rel.as_bytes());
            list.write_u8(0);
            list.write_u64(meta.len());
            list.write_u128(modified_nanos);
        }
        Ok(RunIdentity {
            model: format!("{:016x}", model.finish()),
            files: format!("{:016x}", list.finish()),
            file_count: files.len(),
            chunk_files,
            label_from_name,
        })
    }

    /// Why a journal of `self` cannot be resumed by a run of `now`, if it cannot.
    fn mismatch(&self, now: &RunIdentity) -> Option<String> {
        if self.model != now.model {
            return Some("was made with another model (its manifest or weights differ)".into());
        }
        if self.file_count != now.file_count || self.files != now.files {
            return Some(format!(
                "indexed another file list ({} files then, {} now, or files renamed or changed)",
                self.file_count, now.file_count
            ));
        }
        if self.chunk_files != now.chunk_files {
            return Some(format!(
                "used chunks of {} files, not {}",
                self.chunk_files, now.chunk_files
            ));
        }
        if self.label_from_name != now.label_from_name {
            return Some("used another --label-from-name setting".into());
        }
        None
    }
}

/// `journal.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct JournalFile {
    format: u32,
    identity: RunIdentity,
    /// Chunks 0..chunks_done are committed.
    chunks_done: usize,
}

/// One finished chunk: its items (numbered after the chunks before it), media and skipped files.
#[derive(Clone, Debug, Default)]
pub struct ChunkResult {
    pub gallery: Gallery,
    /// Media files: (name relative to the gallery folder, bytes).
    pub media: Vec<(String, Vec<u8>)>,
    /// Skipped files: (path, reason).
    pub skipped: Vec<(String, String)>,
}

/// The open journal of one output folder.
pub struct Journal {
    dir: PathBuf,
    file: JournalFile,
}

impl Journal {
    /// Opens the journal in `out` for a run of `identity`: resumes a matching one, starts a new
    /// one when there is none (or `restart` is set, which discards the old one), and refuses a
    /// journal of another run, saying how it differs.
    pub fn open(out: &Path, identity: &RunIdentity, restart: bool) -> Result<Self> {
        let dir = out.join(JOURNAL_DIR);
        let path = dir.join(JOURNAL_FILE);
        if restart && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::Write {
                path: dir.clone(),
                source: e,
            })?;
        }
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let old: JournalFile = serde_json::from_str(&text).map_err(|e| {
                Error::InvalidRequest(format!(
                    "{}: unreadable index journal ({e}); rerun with --restart to discard it",
                    path.display()
                ))
            })?;
            let why = if old.format != JOURNAL_FORMAT {
                Some(format!(
                    "has journal format {}, this build writes {JOURNAL_FORMAT}",
                    old.format
                ))
            } else {
                old.identity.mismatch(identity)
            };
            if let Some(why) = why {
                return Err(Error::InvalidRequest(format!(
                    "{} holds an interrupted index run that {why}; rerun with --restart to discard \
                     it and start fresh, or choose another --out",
                    out.display()
                )));
            }
            return Ok(Journal { dir, file: old });
        }
        let journal = Journal {
            dir,
            file: JournalFile {
                format: JOURNAL_FORMAT,
                identity: identity.clone(),
                chunks_done: 0,
            },
        };
        journal.save()?;
        Ok(journal)
    }

    /// Number of committed chunks.
    pub fn chunks_done(&self) -> usize {
        self.file.chunks_done
    }

    fn chunk_dir(&self, chunk: usize) -> PathBuf {
        self.dir.join(format!("chunk-{chunk:06}"))
    }

    fn save(&self) -> Result<()> {
        let json =
            serde_json::to_string_pretty(&self.file).map_err(|e| Error::Internal(e.to_string()))?;
        crate::safe_write::write_file(&self.dir.join(JOURNAL_FILE), json.as_bytes())
    }

    /// Commits chunk number `chunks_done()`: its folder is written whole, then the journal
    /// counts it.
    pub fn commit(&mut self, part: &ChunkResult) -> Result<()> {
        let chunk = self.file.chunks_done;
        crate::safe_write::replace_dir(&self.chunk_dir(chunk), |tmp| {
            part.gallery.write(tmp)?;
            for (name, bytes) in &part.media {
                crate::safe_write::write_file(&tmp.join(name), bytes)?;
            }
            let skipped =
                serde_json::to_string(&part.skipped).map_err(|e| Error::Internal(e.to_string()))?;
            crate::safe_write::write_file(&tmp.join(SKIPPED_FILE), skipped.as_bytes())
        })?;
        self.file.chunks_done = chunk + 1;
        self.save()
    }

    /// Reads committed chunk `chunk` back (`dim` and `codebook_size` are checked); its media
    /// files stay in the journal (see [`Journal::link_media`]), so `media` comes back empty.
    pub fn read(&self, chunk: usize, dim: usize, codebook_size: usize) -> Result<ChunkResult> {
        let dir = self.chunk_dir(chunk);
        let gallery = Gallery::read(&dir, dim, codebook_size)?;
        let path = dir.join(SKIPPED_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let skipped = serde_json::from_str(&text).map_err(|e| Error::Gallery {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(ChunkResult {
            gallery,
            media: Vec::new(),
            skipped,
        })
    }

    /// Puts the media file `name` of committed chunk `chunk` at `dest`: a hard link to the
    /// journal's copy (already written and synced when the chunk was committed), or, where the
    /// file system cannot link, a copy written with [`crate::safe_write::write_file`].
    pub fn link_media(&self, chunk: usize, name: &str, dest: &Path) -> Result<()> {
        let src = self.chunk_dir(chunk).join(name);
        crate::safe_write::parent_folder(dest)?;
        if std::fs::hard_link(&src, dest).is_ok() {
            return Ok(());
        }
        let bytes = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
        crate::safe_write::write_file(dest, &bytes)
    }
}

impl ChunkResult {
    /// Appends `part`'s items and skipped files to `self` (not its media: those are linked from
    /// the journal when the gallery is written).
    pub fn extend(&mut self, part: ChunkResult) -> Result<()> {
        let ChunkResult {
            gallery, skipped, ..
        } = part;
        let codes = gallery.codes.into_iter().zip(gallery.positions);
        for (i, (item, (codes, positions))) in gallery.items.iter().zip(codes).enumerate() {
            let item: GalleryItem = item.clone();
            self.gallery.push_at(
                item,
                &gallery.embeddings.row(i, gallery.dim),
                codes,
                positions,
            )?;
        }
        self.skipped.extend(skipped);
        Ok(())
    }
}
