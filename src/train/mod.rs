//! Training: data preparation, the CMG model and losses, the EMA codebook, the loop,
//! evaluation and bundle export.

pub mod augment_audio;
pub mod augment_clips;
pub mod augment_image;
pub mod batches;
pub mod checkpoint;
pub mod cmg;
pub mod config;
pub mod data;
pub mod ema;
pub mod eval;
pub mod export;
pub mod fonts;
pub mod image_sets;
pub mod losses;
pub mod prompts;
pub mod run;
pub mod trainer;
pub mod voices;

/// A hash of `bytes` under `seed` that never changes between runs, machines or Rust versions
/// (FNV-1a, then a SplitMix64 finaliser): held-out splits and per-item seeds are fixed by name.
pub fn stable_hash(seed: u64, bytes: impl AsRef<[u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in seed.to_le_bytes().iter().chain(bytes.as_ref()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}
