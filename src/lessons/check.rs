//! What a step's checks look at ([`Observation`], filled by the headless runner or by the
//! window from its session) and the one rule deciding each [`Check`].

use std::collections::{BTreeMap, BTreeSet};

use crate::lessons::Check;
use crate::modality::Modality;

/// The state a check reads, as plain data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// The current input's best zero-shot label and its cosine, if it was scored.
    pub top_label: Option<String>,
    pub top_cosine: Option<f32>,
    /// The current input's codes, one per position, if it was analysed.
    pub input_codes: Option<Vec<u32>>,
    /// Grid cells of the current input without a code (blank paper), if it is an image.
    pub input_blank_cells: Option<usize>,
    /// Which gallery items use each code, per modality.
    pub gallery_codes: CodeUsers,
    /// Target accuracy of the last transfer lab run.
    pub transfer_accuracy: Option<f32>,
    /// The last low-resource run: per labels-per-class level, the mean accuracy alone and
    /// helped (`None` where a level was unavailable).
    pub low_resource: Option<Vec<LevelMeans>>,
}

/// Per modality, per code: how many gallery items of each label use the code (an item
/// counts once however often it uses it; unlabelled items count under "").
pub type CodeUsers = BTreeMap<Modality, BTreeMap<u32, BTreeMap<String, usize>>>;

/// One level of the low-resource curves: (labels per class, mean alone, mean helped).
pub type LevelMeans = (usize, Option<f32>, Option<f32>);

/// The (level, alone, helped) means of a low-resource report, for [`Observation`].
pub fn low_resource_means(r: &crate::index::low_resource::LowResourceReport) -> Vec<LevelMeans> {
    r.primary_only
        .iter()
        .map(|p| {
            let helped = r
                .with_helper
                .iter()
                .find(|h| h.labels_per_class == p.labels_per_class)
                .and_then(|h| h.mean);
            (p.labels_per_class, p.mean, helped)
        })
        .collect()
}

impl Observation {
    /// Distinct codes of the current input that gallery items of `modality` use too.
    pub fn shared_codes(&self, modality: Modality) -> Option<BTreeSet<u32>> {
        let codes = self.input_codes.as_ref()?;
        let theirs = self.gallery_codes.get(&modality);
        Some(
            codes
                .iter()
                .copied()
                .filter(|c| theirs.is_some_and(|t| t.contains_key(c)))
                .collect(),
        )
    }
}

/// [`CodeUsers`] of gallery items given as `(modality, label, codes)`.
pub fn codes_by_modality<'a>(
    items: impl IntoIterator<Item = (Modality, Option<&'a str>, &'a [u32])>,
) -> CodeUsers {
    let mut out = CodeUsers::new();
    for (m, label, codes) in items {
        let by_code = out.entry(m).or_default();
        for code in codes.iter().copied().collect::<BTreeSet<u32>>() {
            *by_code
                .entry(code)
                .or_default()
                .entry(label.unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    out
}

/// Of the gallery items of `modality` using `code`: how many are labelled `label`, how many
/// there are, and that share (0 when none uses it).
fn label_users(
    obs: &Observation,
    modality: Modality,
    code: u32,
    label: &str,
) -> (usize, usize, f32) {
    let users = obs.gallery_codes.get(&modality).and_then(|c| c.get(&code));
    let all: usize = users.map_or(0, |u| u.values().sum());
    let of_label = users.and_then(|u| u.get(label)).copied().unwrap_or(0);
    (of_label, all, of_label as f32 / all.max(1) as f32)
}

/// The current input's most used code; ties go to the lower code. With `shared_with`, only
/// codes that gallery items of that modality also use count, and among them the codes whose
/// users there are mostly (at least half) labelled like the input's best label are preferred:
/// a code every picture uses (the paper around a digit) is shared too, but says nothing about
/// the digit. `None` when there is no analysed input or no such code.
pub fn most_used_code(obs: &Observation, shared_with: Option<Modality>) -> Option<u32> {
    let codes = obs.input_codes.as_ref()?;
    let allowed = match shared_with {
        Some(m) => Some(obs.shared_codes(m)?),
        None => None,
    };
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for &c in codes {
        if allowed.as_ref().is_none_or(|a| a.contains(&c)) {
            *counts.entry(c).or_default() += 1;
        }
    }
    if let (Some(m), Some(label)) = (shared_with, obs.top_label.as_deref()) {
        let of_label: BTreeMap<u32, usize> = counts
            .iter()
            .filter(|&(&c, _)| label_users(obs, m, c, label).2 >= 0.5)
            .map(|(&c, &n)| (c, n))
            .collect();
        if !of_label.is_empty() {
            counts = of_label;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, _)| c)
}

/// What a check saw, in words, and whether that is what the step claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub seen: String,
}

impl Verdict {
    /// The check holds: `seen` is what holds.
    pub fn pass(seen: String) -> Self {
        Verdict { passed: true, seen }
    }

    /// The check fails: `seen` is what was seen instead.
    pub fn fail(seen: String) -> Self {
        Verdict {
            passed: false,
            seen,
        }
    }

    fn new(passed: bool, seen: String) -> Self {
        Verdict { passed, seen }
    }
}

/// Whether `check` holds on `obs`, with what was seen.
pub fn evaluate(check: &Check, obs: &Observation) -> Verdict {
    match check {
        Check::TopLabel { label } | Check::TopLabelIsNot { label } => {
            let Some(top) = &obs.top_label else {
                return Verdict::fail("there is no analysed input with zero-shot scores".into());
            };
            let want_equal = matches!(check, Check::TopLabel { .. });
            let seen = format!("the best label is \"{top}\"");
            Verdict::new((top == label) == want_equal, seen)
        }
        Check::TopCosineAtMost { at_most } => {
            let Some(cos) = obs.top_cosine else {
                return Verdict::fail("there is no analysed input with zero-shot scores".into());
            };
            let seen = format!("the best label's cosine is {cos:.3}");
            Verdict::new(cos <= *at_most, seen)
        }
        Check::TopCosineAtLeast { at_least } => {
            let Some(cos) = obs.top_cosine else {
                return Verdict::fail("there is no analysed input with zero-shot scores".into());
            };
            let seen = format!("the best label's cosine is {cos:.3}");
            Verdict::new(cos >= *at_least, seen)
        }
        Check::SharesCodes { modality, at_least } => {
            let Some(shared) = obs.shared_codes(*modality) else {
                return Verdict::fail("there is no analysed input".into());
            };
            let seen = format!("{} codes shared with {modality}", shared.len());
            Verdict::new(shared.len() >= *at_least, seen)
        }
        Check::BlankCells { at_least } => {
            let Some(blank) = obs.input_blank_cells else {
                return Verdict::fail("the current input is not an analysed image".into());
            };
            Verdict::new(
                blank >= *at_least,
                format!("{blank} grid cells without a code"),
            )
        }
        Check::LitCodeOfLabel {
            modality,
            label,
            share_at_least,
        } => {
            let Some(code) = most_used_code(obs, Some(*modality)) else {
                return Verdict::fail(format!(
                    "there is no analysed input with a code that {modality} items use"
                ));
            };
            let (of_label, all, share) = label_users(obs, *modality, code, label);
            let seen = format!(
                "code {code}: {of_label} of the {all} {modality} items using it are \"{label}\" \
                 ({:.0}%)",
                share * 100.0
            );
            Verdict::new(share >= *share_at_least, seen)
        }
        Check::TransferAccuracy { at_least } => {
            let Some(acc) = obs.transfer_accuracy else {
                return Verdict::fail("the transfer lab has not run".into());
            };
            let seen = format!("transfer accuracy {:.1}%", acc * 100.0);
            Verdict::new(acc >= *at_least, seen)
        }
        Check::HelperLifts {
            labels_per_class,
            by_at_least,
        } => {
            let Some(levels) = &obs.low_resource else {
                return Verdict::fail("the low-resource curves have not run".into());
            };
            let Some((_, Some(alone), Some(helped))) =
                levels.iter().find(|(l, ..)| l == labels_per_class)
            else {
                return Verdict::fail(format!(
                    "the curves have no figures at {labels_per_class} labels per class"
                ));
            };
            let seen = format!(
                "at {labels_per_class} labels per class: alone {:.1}%, helped {:.1}%",
                alone * 100.0,
                helped * 100.0
            );
            Verdict::new(helped - alone >= *by_at_least, seen)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a failing check saw (panics when it passed).
    fn failed(v: Verdict) -> String {
        assert!(!v.passed, "expected a failure: {v:?}");
        v.seen
    }

    fn obs() -> Observation {
        Observation {
            top_label: Some("seven".into()),
            top_cosine: Some(0.9),
            input_codes: Some(vec![3, 3, 5, 9, 9, 9]),
            input_blank_cells: Some(10),
            gallery_codes: codes_by_modality([
                (Modality::Image, Some("seven"), &[3u32, 5][..]),
                (Modality::Image, Some("seven"), &[3u32, 3][..]),
                (Modality::Image, Some("one"), &[3u32][..]),
                (Modality::Audio, Some("seven"), &[9u32, 1][..]),
            ]),
            transfer_accuracy: Some(0.62),
            low_resource: Some(vec![(0, Some(0.1), Some(0.5)), (50, None, None)]),
        }
    }

    #[test]
    fn blank_cells_counts_the_pictures_cells_without_a_code() {
        let o = obs();
        let blank = |n| Check::BlankCells { at_least: n };
        assert!(evaluate(&blank(10), &o).passed);
        assert_eq!(
            evaluate(&blank(11), &o),
            Verdict::fail("10 grid cells without a code".into())
        );
        let sound = Observation {
            input_blank_cells: None,
            ..obs()
        };
        assert!(failed(evaluate(&blank(0), &sound)).contains("not an analysed image"));
    }

    #[test]
    fn helper_lifts_reads_the_curves_at_one_level() {
        let o = obs();
        let lifts = |l: usize, by: f32| Check::HelperLifts {
            labels_per_class: l,
            by_at_least: by,
        };
        assert!(evaluate(&lifts(0, 0.3), &o).passed);
        assert!(failed(evaluate(&lifts(0, 0.5), &o)).contains("helped 50.0%"));
        assert!(failed(evaluate(&lifts(50, 0.0), &o)).contains("no figures"));
        let none = Observation::default();
        assert!(failed(evaluate(&lifts(0, 0.0), &none)).contains("not run"));
    }

    #[test]
    fn checks_pass_and_fail_on_what_was_seen() {
        let o = obs();
        let top = |l: &str| Check::TopLabel { label: l.into() };
        assert!(evaluate(&top("seven"), &o).passed);
        assert_eq!(
            evaluate(&top("three"), &o),
            Verdict::fail("the best label is \"seven\"".into())
        );
        assert!(
            evaluate(
                &Check::TopLabelIsNot {
                    label: "three".into()
                },
                &o
            )
            .passed
        );
        let shares = |n| Check::SharesCodes {
            modality: Modality::Image,
            at_least: n,
        };
        assert!(evaluate(&shares(2), &o).passed);
        assert_eq!(
            evaluate(&shares(3), &o),
            Verdict::fail("2 codes shared with image".into())
        );
        assert!(evaluate(&Check::TopCosineAtMost { at_most: 0.95 }, &o).passed);
        assert!(evaluate(&Check::TopCosineAtLeast { at_least: 0.85 }, &o).passed);
        assert_eq!(
            evaluate(&Check::TopCosineAtLeast { at_least: 0.95 }, &o),
            Verdict::fail("the best label's cosine is 0.900".into())
        );
        assert_eq!(
            evaluate(&Check::TopCosineAtMost { at_most: 0.7 }, &o),
            Verdict::fail("the best label's cosine is 0.900".into())
        );
        assert!(evaluate(&Check::TransferAccuracy { at_least: 0.6 }, &o).passed);
        assert!(!evaluate(&Check::TransferAccuracy { at_least: 0.7 }, &o).passed);
        let empty = Observation::default();
        assert!(!evaluate(&top("seven"), &empty).passed);
        assert!(!evaluate(&Check::TransferAccuracy { at_least: 0.0 }, &empty).passed);
    }

    #[test]
    fn lit_code_of_label_counts_the_items_using_the_lit_code() {
        // The lit code (shared with images) is 3: two "seven" items and one "one" use it.
        let o = obs();
        let lit = |label: &str, share: f32| Check::LitCodeOfLabel {
            modality: Modality::Image,
            label: label.into(),
            share_at_least: share,
        };
        assert_eq!(
            evaluate(&lit("seven", 0.6), &o),
            Verdict::pass("code 3: 2 of the 3 image items using it are \"seven\" (67%)".into())
        );
        assert!(!evaluate(&lit("seven", 0.7), &o).passed);
        assert!(!evaluate(&lit("one", 0.5), &o).passed);
        let none = Check::LitCodeOfLabel {
            modality: Modality::Text,
            label: "seven".into(),
            share_at_least: 0.0,
        };
        assert!(failed(evaluate(&none, &o)).contains("no analysed input"));
    }

    #[test]
    fn most_used_code_prefers_shared_codes() {
        let o = obs();
        assert_eq!(most_used_code(&o, None), Some(9));
        assert_eq!(most_used_code(&o, Some(Modality::Image)), Some(3));
        assert_eq!(most_used_code(&o, Some(Modality::Text)), None);
    }

    #[test]
    fn most_used_code_prefers_codes_of_the_inputs_label_over_codes_everyone_uses() {
        // Code 4 is the input's most used shared code but every digit's pictures use it;
        // code 6, used twice, is mostly a "seven" code there.
        let o = Observation {
            top_label: Some("seven".into()),
            input_codes: Some(vec![4, 4, 4, 6, 6]),
            gallery_codes: codes_by_modality([
                (Modality::Image, Some("seven"), &[4u32, 6][..]),
                (Modality::Image, Some("seven"), &[4u32, 6][..]),
                (Modality::Image, Some("one"), &[4u32, 6][..]),
                (Modality::Image, Some("two"), &[4u32][..]),
                (Modality::Image, Some("three"), &[4u32][..]),
            ]),
            ..Default::default()
        };
        assert_eq!(most_used_code(&o, Some(Modality::Image)), Some(6));
        // Without a label (nothing scored), the plain most used shared code.
        let unlabelled = Observation {
            top_label: None,
            ..o.clone()
        };
        assert_eq!(most_used_code(&unlabelled, Some(Modality::Image)), Some(4));
    }
}
