//! The facts of one code over a gallery, for its page: how often it is assigned per modality
//! and per class, its share of all assignments, the positions it takes (image grid cells,
//! audio time steps, token positions), the items that use it most per modality, its nearest
//! codes in the codebook and the codes it shares items with. Plain data and arithmetic over
//! the gallery's stored codes: one pass over every item's codes, `O(K * D)` for the
//! neighbours, so a page of a 100k-item gallery and a 4,096-code codebook takes milliseconds.
//!
//! Positions are the encoder positions of an item's codes (the gallery's `code_positions`).
//! Padding (audio beyond a clip's frames) and an image's blank cells get no code, so they
//! count at no position.
//! `tests/reference/code_page_reference.py` re-derives every figure with numpy.

use serde::{Deserialize, Serialize};

use crate::bundle::gallery::Gallery;
use crate::error::{Error, Result};
use crate::modality::Modality;

/// Items listed per modality as the code's most frequent users.
pub const TOP_ITEMS_PER_MODALITY: usize = 12;
/// Nearest codes listed.
pub const NEAREST_CODES: usize = 8;
/// Co-occurring codes listed.
pub const CO_OCCURRING_CODES: usize = 10;

/// What the facts are computed from.
#[derive(Clone, Copy, Debug)]
pub struct CodeSource<'a> {
    pub gallery: &'a Gallery,
    /// Class names (per-class usage is counted for these labels, in this order).
    pub classes: &'a [String],
    pub codebook_size: usize,
    /// Code vectors, row-major `[codebook_size, dim]`, if the bundle has them.
    pub codebook: Option<&'a [f32]>,
    /// The image feature grid `[rows, cols]`, if the model reads images.
    pub image_grid: Option<[usize; 2]>,
}

/// Usage of the code by one modality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModalityUse {
    pub modality: Modality,
    /// Positions of this modality's items assigned the code.
    pub positions: u64,
    /// Positions of this modality's items (any code).
    pub modality_positions: u64,
    /// `positions / modality_positions` (0 when the modality stores no codes).
    pub share_of_modality: f64,
    /// Items of this modality using the code at least once.
    pub items: usize,
}

/// Usage of the code by the items of one class (every modality).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassUse {
    pub label: String,
    /// Positions of this class's items assigned the code.
    pub positions: u64,
    /// Items of this class using the code at least once.
    pub items: usize,
}

/// Where in its items one modality uses the code, position by position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionMap {
    pub modality: Modality,
    /// `[rows, cols]` when the positions are an image grid (row-major); `None`: a sequence
    /// (audio time steps, token positions).
    pub grid: Option<[usize; 2]>,
    /// Per position: items whose code there is this code.
    pub uses: Vec<u64>,
    /// Per position: items that have a code there at all.
    pub items_at: Vec<u64>,
}

/// A gallery item using the code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemUse {
    /// Gallery index.
    pub index: usize,
    /// Positions of the item assigned the code.
    pub positions: u32,
    pub label: Option<String>,
    pub source: String,
    pub text: Option<String>,
    /// Thumbnail or clip, relative to the gallery folder.
    pub media: Option<String>,
}

/// The items of one modality that use the code most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopItems {
    pub modality: Modality,
    /// Most positions first, then by gallery index; at most [`TOP_ITEMS_PER_MODALITY`].
    pub items: Vec<ItemUse>,
}

/// A code near this one in the codebook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearCode {
    pub code: u32,
    /// Euclidean distance between the two code vectors (the codebook's own metric).
    pub l2_distance: f32,
}

/// A code used in the same items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoCode {
    pub code: u32,
    /// Items using both codes.
    pub items: usize,
}

/// Everything the gallery and codebook say about one code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodeFacts {
    pub code: u32,
    pub codebook_size: usize,
    /// Positions of the whole gallery assigned the code.
    pub positions: u64,
    /// Positions of the whole gallery (every code).
    pub total_positions: u64,
    /// `positions / total_positions`: the code's share of all assignments (0 when the
    /// gallery stores no codes).
    pub share_of_assignments: f64,
    /// Items using the code at least once.
    pub items: usize,
    /// One entry per modality with gallery items, in modality order.
    pub per_modality: Vec<ModalityUse>,
    /// One entry per class, in the order of the class list.
    pub per_class: Vec<ClassUse>,
    /// One map per modality with gallery items, in modality order.
    pub position_maps: Vec<PositionMap>,
    /// One list per modality with gallery items, in modality order.
    pub top_items: Vec<TopItems>,
    /// Closest first (ties by code id), at most [`NEAREST_CODES`]; empty without code vectors.
    pub nearest_codes: Vec<NearCode>,
    /// Most shared items first (ties by code id), at most [`CO_OCCURRING_CODES`].
    pub co_occurring: Vec<CoCode>,
}

/// `part / whole`, 0 for an empty whole.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Per-modality counters while scanning the gallery.
#[derive(Default)]
struct ModalityScan {
    usage: Option<ModalityUse>,
    uses: Vec<u64>,
    items_at: Vec<u64>,
    /// (positions, gallery index) of every item using the code.
    users: Vec<(u32, usize)>,
}

impl CodeSource<'_> {
    /// The facts of `code`; an error when it is not in the codebook.
    pub fn facts(&self, code: u32) -> Result<CodeFacts> {
        let k = self.codebook_size;
        if code as usize >= k {
            return Err(Error::CodeOutOfRange {
                code,
                codebook_size: k,
            });
        }
        let g = self.gallery;
        let mut scans: Vec<ModalityScan> =
            Modality::ALL.iter().map(|_| Default::default()).collect();
        let mut per_class: Vec<ClassUse> = self
            .classes
            .iter()
            .map(|label| ClassUse {
                label: label.clone(),
                positions: 0,
                items: 0,
            })
            .collect();
        // Co-occurrence: items per other code, each item counted once (`seen` stamps the
        // last item a code was counted for).
        let mut co_items = vec![0usize; k];
        let mut seen = vec![usize::MAX; k];
        let (mut positions, mut total_positions, mut items) = (0u64, 0u64, 0usize);
        for (i, (item, (codes, at))) in g
            .items
            .iter()
            .zip(g.codes.iter().zip(&g.positions))
            .enumerate()
        {
            let scan = &mut scans[item.modality.index()];
            let usage = scan.usage.get_or_insert(ModalityUse {
                modality: item.modality,
                positions: 0,
                modality_positions: 0,
                share_of_modality: 0.0,
                items: 0,
            });
            // An image's blank cells have no code: they count at no position.
            let span = match (item.modality, self.image_grid) {
                (Modality::Image, Some([r, c])) => r * c,
                _ => 0,
            }
            .max(at.iter().map(|&p| p as usize + 1).max().unwrap_or(0));
            if scan.items_at.len() < span {
                scan.items_at.resize(span, 0);
                scan.uses.resize(span, 0);
            }
            let mut here = 0u32;
            for (&p, &c) in at.iter().zip(codes) {
                let p = p as usize;
                if c as usize >= k {
                    continue;
                }
                scan.items_at[p] += 1;
                usage.modality_positions += 1;
                total_positions += 1;
                if c == code {
                    scan.uses[p] += 1;
                    here += 1;
                }
            }
            if here == 0 {
                continue;
            }
            positions += u64::from(here);
            items += 1;
            usage.positions += u64::from(here);
            usage.items += 1;
            scan.users.push((here, i));
            if let Some(class) = item
                .label
                .as_ref()
                .and_then(|l| self.classes.iter().position(|c| c == l))
            {
                per_class[class].positions += u64::from(here);
                per_class[class].items += 1;
            }
            for &c in codes {
                let c = c as usize;
                if c < k && c != code as usize && seen[c] != i {
                    seen[c] = i;
                    co_items[c] += 1;
                }
            }
        }
        let mut per_modality = Vec::new();
        let mut position_maps = Vec::new();
        let mut top_items = Vec::new();
        for (modality, scan) in Modality::ALL.into_iter().zip(scans) {
            let Some(mut usage) = scan.usage else {
                continue;
            };
            usage.share_of_modality = share(usage.positions, usage.modality_positions);
            per_modality.push(usage);
            let grid = self
                .image_grid
                .filter(|[r, c]| modality == Modality::Image && r * c == scan.uses.len());
            position_maps.push(PositionMap {
                modality,
                grid,
                uses: scan.uses,
                items_at: scan.items_at,
            });
            let mut users = scan.users;
            users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            users.truncate(TOP_ITEMS_PER_MODALITY);
            let items = users
                .into_iter()
                .map(|(n, i)| {
                    let item = &g.items[i];
                    ItemUse {
                        index: i,
                        positions: n,
                        label: item.label.clone(),
                        source: item.source.clone(),
                        text: item.text.clone(),
                        media: item.media.clone(),
                    }
                })
                .collect();
            top_items.push(TopItems { modality, items });
        }
        let mut co_occurring: Vec<CoCode> = co_items
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, &n)| CoCode {
                code: c as u32,
                items: n,
            })
            .collect();
        co_occurring.sort_by(|a, b| b.items.cmp(&a.items).then(a.code.cmp(&b.code)));
        co_occurring.truncate(CO_OCCURRING_CODES);
        Ok(CodeFacts {
            code,
            codebook_size: k,
            positions,
            total_positions,
            share_of_assignments: share(positions, total_positions),
            items,
            per_modality,
            per_class,
            position_maps,
            top_items,
            nearest_codes: self.nearest_codes(code),
            co_occurring,
        })
    }

    /// The codes closest to `code` by Euclidean distance (ties by id).
    fn nearest_codes(&self, code: u32) -> Vec<NearCode> {
        let k = self.codebook_size;
        let Some(vectors) = self.codebook.filter(|v| k > 0 && v.len() % k == 0) else {
            return Vec::new();
        };
        let dim = vectors.len() / k;
        if dim == 0 {
            return Vec::new();
        }
        let own = &vectors[code as usize * dim..(code as usize + 1) * dim];
        let mut near: Vec<NearCode> = vectors
            .chunks_exact(dim)
            .enumerate()
            .filter(|(c, _)| *c != code as usize)
            .map(|(c, v)| NearCode {
                code: c as u32,
                l2_distance: v
                    .iter()
                    .zip(own)
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum::<f64>()
                    .sqrt() as f32,
            })
            .collect();
        near.sort_by(|a, b| {
            a.l2_distance
                .total_cmp(&b.l2_distance)
                .then(a.code.cmp(&b.code))
        });
        near.truncate(NEAREST_CODES);
        near
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::gallery::GalleryItem;

    fn gallery() -> Gallery {
        let mut g = Gallery::default();
        let items: [(Modality, &str, Vec<u32>); 5] = [
            (Modality::Image, "a", vec![1, 1, 2, 3]),
            (Modality::Image, "b", vec![2, 1, 0, 0]),
            (Modality::Audio, "a", vec![1, 4, 4]),
            (Modality::Audio, "b", vec![4, 4]),
            (Modality::Text, "a", vec![3, 1]),
        ];
        for (i, (modality, label, codes)) in items.into_iter().enumerate() {
            let item = GalleryItem {
                modality,
                label: Some(label.into()),
                source: format!("item {i}"),
                media: None,
                text: None,
            };
            g.push(item, &[1.0, 0.0], codes).unwrap();
        }
        g
    }

    #[test]
    fn code_page_facts_count_every_view_of_a_code() {
        let g = gallery();
        let classes = ["a".to_string(), "b".to_string()];
        // Code c's vector: (c, 0), so the nearest codes of 1 are 0 and 2 (both at 1), then 3.
        let codebook: Vec<f32> = (0..5).flat_map(|c| [c as f32, 0.0]).collect();
        let source = CodeSource {
            gallery: &g,
            classes: &classes,
            codebook_size: 5,
            codebook: Some(&codebook),
            image_grid: Some([2, 2]),
        };
        let f = source.facts(1).unwrap();
        assert_eq!((f.positions, f.total_positions, f.items), (5, 15, 4));
        assert!((f.share_of_assignments - 5.0 / 15.0).abs() < 1e-12);
        let image = &f.per_modality[0];
        assert_eq!(
            (image.positions, image.modality_positions, image.items),
            (3, 8, 2)
        );
        assert_eq!(f.per_class[0].positions, 4);
        assert_eq!(f.per_class[1].positions, 1);
        assert_eq!(f.position_maps[0].grid, Some([2, 2]));
        assert_eq!(f.position_maps[0].uses, vec![1, 2, 0, 0]);
        assert_eq!(f.position_maps[1].grid, None);
        assert_eq!(f.position_maps[1].uses, vec![1, 0, 0]);
        assert_eq!(f.position_maps[1].items_at, vec![2, 2, 1]);
        assert_eq!(f.top_items[0].items[0].index, 0);
        assert_eq!(f.top_items[0].items[0].positions, 2);
        // Audio item 3 does not use code 1.
        assert_eq!(f.top_items[1].items.len(), 1);
        let near: Vec<u32> = f.nearest_codes.iter().map(|n| n.code).collect();
        assert_eq!(near, vec![0, 2, 3, 4]);
        // Items with code 1: {1,2,3}, {2,1,0}, {1,4}, {3,1} -> 2 and 3 twice, 0 and 4 once.
        let co: Vec<(u32, usize)> = f.co_occurring.iter().map(|c| (c.code, c.items)).collect();
        assert_eq!(co, vec![(2, 2), (3, 2), (0, 1), (4, 1)]);
        let err = source.facts(5).unwrap_err().to_string();
        assert!(err.contains("code 5") && err.contains("5 codes"), "{err}");
    }

    /// A page of a 100k-item gallery with a 4,096-code codebook counts every item that uses
    /// the code and every position (its time is the bench's: `--inspect-only`).
    #[test]
    fn a_code_page_of_a_100k_gallery_and_4096_codes_counts_every_item() {
        let (n, t, k, d) = (100_000usize, 16usize, 4096usize, 256usize);
        let mut g = Gallery::default();
        let mut rng = 1u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) as u32
        };
        let e = vec![0.0625f32; d];
        for i in 0..n {
            let item = GalleryItem {
                modality: Modality::ALL[i % 3],
                label: Some(format!("{}", i % 10)),
                source: format!("item {i}"),
                media: None,
                text: None,
            };
            let codes = (0..t).map(|_| next() % k as u32).collect();
            g.push(item, &e, codes).unwrap();
        }
        let classes: Vec<String> = (0..10).map(|c| c.to_string()).collect();
        let codebook: Vec<f32> = (0..k * d)
            .map(|_| (next() % 1000) as f32 / 1000.0)
            .collect();
        let source = CodeSource {
            gallery: &g,
            classes: &classes,
            codebook_size: k,
            codebook: Some(&codebook),
            image_grid: Some([4, 4]),
        };
        for code in [0u32, 4095] {
            let f = source.facts(code).unwrap();
            let users = g.codes.iter().filter(|c| c.contains(&code)).count();
            assert_eq!(f.items, users);
            assert_eq!(f.total_positions, (n * t) as u64);
            assert_eq!(f.nearest_codes.len(), NEAREST_CODES);
        }
    }
}
