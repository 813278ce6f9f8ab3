//! Reading lessons: the built-in files (compiled in from `assets/lessons/`), the user's
//! folder and a folder named with `--lessons`; parsing with errors that name the file, the
//! step and what was expected; and resolving the paths a lesson names.

use crate::invalid;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bundle::locate::{APP_DIR_NAME, SearchRoots};
use crate::error::{Error, Invalid, Result};
use crate::lessons::{Action, Check, Lesson, Step};
use crate::modality::Modality;

/// Folder of the built-in lessons in the source tree (and of their relative paths).
pub const BUILTIN_DIR: &str = "assets/lessons";

/// Folder name of a user's own lessons under the user data folder.
pub const USER_DIR_NAME: &str = "lessons";

/// The built-in lessons: file name and contents. A new built-in lesson is a file in
/// [`BUILTIN_DIR`] and a line here (a test fails when one is missing).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "01-pretrained.toml",
        include_str!("../../assets/lessons/01-pretrained.toml"),
    ),
    (
        "02-shared-codes.toml",
        include_str!("../../assets/lessons/02-shared-codes.toml"),
    ),
    (
        "03-generation.toml",
        include_str!("../../assets/lessons/03-generation.toml"),
    ),
    (
        "04-low-resource.toml",
        include_str!("../../assets/lessons/04-low-resource.toml"),
    ),
    (
        "05-unseen.toml",
        include_str!("../../assets/lessons/05-unseen.toml"),
    ),
];

/// The user's own lessons folder: `dirs::data_dir()/transference/lessons`.
pub fn user_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join(APP_DIR_NAME).join(USER_DIR_NAME))
}

/// Every lesson found, and the files that could not be read (kept apart so one broken
/// teacher's file does not hide the others).
#[derive(Debug, Default)]
pub struct Catalogue {
    pub lessons: Vec<Lesson>,
    pub problems: Vec<Error>,
}

impl Catalogue {
    /// The lesson with this id, or an error listing the ids there are.
    pub fn find(&self, id: &str) -> Result<&Lesson> {
        self.lessons
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| Error::LessonNotFound {
                id: id.to_string(),
                available: self
                    .lessons
                    .iter()
                    .map(|l| l.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Adds `lesson`, replacing one with the same id in place.
    fn add(&mut self, lesson: Lesson) {
        match self.lessons.iter_mut().find(|l| l.id == lesson.id) {
            Some(old) => *old = lesson,
            None => self.lessons.push(lesson),
        }
    }
}

/// The built-in lessons, then the user folder's, then `extra`'s (`--lessons DIR`); a later
/// lesson with an id already seen replaces the earlier one.
pub fn catalogue(extra: Option<&Path>) -> Catalogue {
    let mut cat = Catalogue::default();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(BUILTIN_DIR);
    for (name, text) in BUILTIN {
        match parse(text, &source.join(name)) {
            Ok(l) => cat.add(l),
            Err(e) => cat.problems.push(e),
        }
    }
    if let Some(dir) = user_dir().filter(|d| d.is_dir()) {
        load_dir(&dir, &mut cat);
    }
    if let Some(dir) = extra {
        if dir.is_dir() {
            load_dir(dir, &mut cat);
        } else {
            cat.problems.push(Error::Lesson {
                path: dir.to_path_buf(),
                place: "--lessons".into(),
                reason: "not a folder; expected a folder of lesson .toml files".into(),
            });
        }
    }
    cat
}

/// Reads every `*.toml` of `dir` (in name order) into `cat`.
fn load_dir(dir: &Path, cat: &mut Catalogue) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            cat.problems.push(Error::io(dir, e));
            return;
        }
    };
    files.sort();
    for f in files {
        match read(&f) {
            Ok(l) => cat.add(l),
            Err(e) => cat.problems.push(e),
        }
    }
}

/// Reads and parses one lesson file.
pub fn read(path: &Path) -> Result<Lesson> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLesson {
    id: String,
    title: String,
    summary: String,
    steps: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: String,
    text: String,
    question: String,
    #[serde(default)]
    actions: Vec<toml::Value>,
    #[serde(default)]
    checks: Vec<toml::Value>,
}

/// Parses a lesson read from `path` (named in errors; relative paths in the lesson are
/// resolved against its folder).
pub fn parse(text: &str, path: &Path) -> Result<Lesson> {
    let err = |place: String, reason: String| Error::Lesson {
        path: path.to_path_buf(),
        place,
        reason,
    };
    let raw: RawLesson = toml::from_str(text).map_err(|e| {
        err(
            "the lesson".into(),
            format!(
                "{} (expected `id`, `title`, `summary` and [[steps]])",
                e.to_string().trim()
            ),
        )
    })?;
    let id_ok = !raw.id.is_empty()
        && raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(err(
            "the lesson".into(),
            format!(
                "id `{}` is not usable; expected letters, digits, `-` or `_`",
                raw.id
            ),
        ));
    }
    if raw.steps.is_empty() {
        return Err(err(
            "the lesson".into(),
            "it has no [[steps]]; expected at least one".into(),
        ));
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, value) in raw.steps.into_iter().enumerate() {
        let title = value
            .get("title")
            .and_then(|t| t.as_str())
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default();
        let place = format!("step {}{title}", i + 1);
        let step =
            parse_step(value).map_err(|(part, reason)| err(format!("{place}{part}"), reason))?;
        steps.push(step);
    }
    Ok(Lesson {
        id: raw.id,
        title: raw.title,
        summary: raw.summary,
        steps,
        file: path.to_path_buf(),
    })
}

/// One step; on error the part (", action 2") and the reason.
fn parse_step(value: toml::Value) -> std::result::Result<Step, (String, String)> {
    let raw: RawStep = value.try_into().map_err(|e: toml::de::Error| {
        (
            String::new(),
            format!(
                "{} (expected `title`, `text`, `question`, and optional `actions` and `checks`)",
                e.message().trim()
            ),
        )
    })?;
    for (name, v) in [
        ("title", &raw.title),
        ("text", &raw.text),
        ("question", &raw.question),
    ] {
        if v.trim().is_empty() {
            return Err((String::new(), format!("`{name}` is empty")));
        }
    }
    let mut actions = Vec::new();
    for (i, v) in raw.actions.into_iter().enumerate() {
        let part = format!(", action {}", i + 1);
        let action: Action = v
            .try_into()
            .map_err(|e: toml::de::Error| (part.clone(), e.message().trim().to_string()))?;
        validate(&action).map_err(|r| (part, r.0))?;
        actions.push(action);
    }
    let mut checks = Vec::new();
    for (i, v) in raw.checks.into_iter().enumerate() {
        let check: Check = v.try_into().map_err(|e: toml::de::Error| {
            (format!(", check {}", i + 1), e.message().trim().to_string())
        })?;
        checks.push(check);
    }
    Ok(Step {
        title: raw.title,
        text: raw.text,
        question: raw.question,
        actions,
        checks,
    })
}

/// What serde cannot say: exactly one input source, a code or a modality, labels present.
fn validate(action: &Action) -> std::result::Result<(), Invalid> {
    match action {
        Action::QueueInput {
            text,
            file,
            gallery,
        } => {
            let n = usize::from(text.is_some())
                + usize::from(file.is_some())
                + usize::from(gallery.is_some());
            if n != 1 {
                return Err(invalid!(
                    "queue_input names {n} inputs; expected exactly one of `text`, `file` or `gallery`"
                ));
            }
            if text.as_ref().is_some_and(|t| t.trim().is_empty()) {
                return Err("queue_input has an empty `text`".into());
            }
        }
        Action::LightCode {
            code: Some(_),
            shared_with: Some(_),
        } => {
            return Err(
                "light_code names both `code` and `shared_with`; expected at most one".into(),
            );
        }
        Action::SetLabels { labels, .. }
            if crate::bundle::prompts::parse_labels(labels).is_empty() =>
        {
            return Err(
                "set_labels has no labels; expected comma-separated or one per line".into(),
            );
        }
        Action::Generate { to: Modality::Text } => {
            return Err(
                "generate to text: text is never generated; expected `image` or `audio`".into(),
            );
        }
        Action::RunLowResource { tested, helper, .. } if tested == helper => {
            return Err(invalid!(
                "run_low_resource tests on {tested} helped by {helper}; expected two different \
                 modalities"
            ));
        }
        Action::RunTransfer { source, target, .. } if source == target => {
            return Err(invalid!(
                "run_transfer fits and tests on {source}; expected two different modalities"
            ));
        }
        _ => {}
    }
    Ok(())
}

/// A path a lesson names: absolute as given; else the first existing of the lesson file's
/// folder, the current folder and the search roots of [`crate::bundle::locate`] joined with
/// it; an error listing every place looked at when none exists.
pub fn resolve(lesson_file: &Path, rel: &Path) -> Result<PathBuf> {
    if rel.is_absolute() {
        return Ok(rel.to_path_buf());
    }
    let mut tried = Vec::new();
    if let Some(dir) = lesson_file.parent() {
        tried.push(dir.join(rel));
    }
    if let Ok(cwd) = std::env::current_dir() {
        tried.push(cwd.join(rel));
    }
    tried.extend(SearchRoots::current().roots().iter().map(|r| r.join(rel)));
    if let Some(found) = tried.iter().find(|p| p.exists()) {
        return Ok(found.clone());
    }
    Err(Error::InvalidRequest(format!(
        "{}: the file `{}` it names is not in any of: {}",
        lesson_file.display(),
        rel.display(),
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::{GalleryPick, LessonPanel};
    use crate::modality::Modality;

    const GOOD: &str = r#"
id = "demo"
title = "A demo"
summary = "Two steps."

[[steps]]
title = "Open"
text = "Open the model."
question = "What is loaded?"
actions = [
    { do = "open_bundle", path = "models/digits" },
    { do = "queue_input", gallery = { modality = "image", label = "seven" } },
    { do = "show", panel = "map" },
    { do = "color_map", by = "class" },
]
checks = [{ check = "top_label", label = "seven" }]

[[steps]]
title = "Transfer"
text = "Fit on images."
question = "Does it work on audio?"
actions = [{ do = "run_transfer", source = "image", target = "audio" }]
checks = [{ check = "transfer_accuracy", at_least = 0.3 }]
"#;

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/x/bad.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_lesson_parses() {
        let l = parse(GOOD, Path::new("/x/demo.toml")).unwrap();
        assert_eq!(l.id, "demo");
        assert_eq!(l.steps.len(), 2);
        assert_eq!(
            l.steps[0].actions[1],
            Action::QueueInput {
                text: None,
                file: None,
                gallery: Some(GalleryPick {
                    modality: Modality::Image,
                    label: "seven".into(),
                    source: None,
                    nth: 0
                })
            }
        );
        assert_eq!(
            l.steps[0].actions[2],
            Action::Show {
                panel: LessonPanel::Map
            }
        );
        assert_eq!(
            l.steps[0].actions[3],
            Action::ColorMap {
                by: crate::view_options::MapColoring::Class
            }
        );
        assert_eq!(
            l.steps[1].actions[0],
            Action::RunTransfer {
                source: Modality::Image,
                target: Modality::Audio,
                features: Default::default()
            }
        );
    }

    #[test]
    fn bad_lessons_name_the_file_the_step_and_what_was_expected() {
        let e = parse_err(&GOOD.replace("open_bundle", "open_bundel"));
        assert!(
            e.starts_with("/x/bad.toml: step 1 \"Open\", action 1:"),
            "{e}"
        );
        assert!(
            e.contains("open_bundel") && e.contains("open_bundle"),
            "{e}"
        );

        let e = parse_err(&GOOD.replace("source = \"image\", ", ""));
        assert!(e.contains("step 2 \"Transfer\", action 1"), "{e}");
        assert!(e.contains("source"), "{e}");

        let e = parse_err(&GOOD.replace("question = \"Does it work on audio?\"", ""));
        assert!(e.contains("step 2 \"Transfer\":"), "{e}");
        assert!(e.contains("question"), "{e}");

        let e = parse_err(&GOOD.replace(
            "gallery = { modality = \"image\", label = \"seven\" }",
            "text = \"seven\", file = \"a.png\"",
        ));
        assert!(e.contains("step 1 \"Open\", action 2"), "{e}");
        assert!(e.contains("exactly one of"), "{e}");

        let e = parse_err(&GOOD.replace("at_least = 0.3", "at_least = \"high\""));
        assert!(e.contains("step 2 \"Transfer\", check 1"), "{e}");

        let e = parse_err(&GOOD.replace("id = \"demo\"", "id = \"a demo\""));
        assert!(e.contains("the lesson") && e.contains("a demo"), "{e}");

        let e = parse_err("id = \"x\"\ntitle = \"t\"\n");
        assert!(e.contains("the lesson") && e.contains("summary"), "{e}");

        let e = parse_err(&GOOD.replace(
            "{ do = \"show\", panel = \"map\" }",
            "{ do = \"show\", panel = \"map\", colour = 1 }",
        ));
        assert!(e.contains("action 3") && e.contains("colour"), "{e}");
    }

    #[test]
    fn every_built_in_lesson_parses_and_is_listed() {
        let cat = catalogue(None);
        assert!(cat.problems.is_empty(), "{:?}", cat.problems);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(BUILTIN_DIR);
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().to_string();
                name.ends_with(".toml").then_some(name)
            })
            .collect();
        on_disk.sort();
        let listed: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(on_disk, listed, "every file in {BUILTIN_DIR} is in BUILTIN");
    }

    #[test]
    fn paths_resolve_beside_the_lesson_file_first_and_name_every_place_tried() {
        let tmp = tempfile::tempdir().unwrap();
        let lesson = tmp.path().join("mine.toml");
        std::fs::write(tmp.path().join("seven.png"), b"").unwrap();
        assert_eq!(
            resolve(&lesson, Path::new("seven.png")).unwrap(),
            tmp.path().join("seven.png")
        );
        // The source tree is a search root: the bundled model is found from anywhere.
        assert!(resolve(&lesson, Path::new("models/digits")).is_ok());
        let e = resolve(&lesson, Path::new("nowhere.wav"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nowhere.wav") && e.contains(&tmp.path().display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_lessons_folder_adds_and_replaces_lessons_and_reports_broken_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.toml"), GOOD).unwrap();
        std::fs::write(
            tmp.path().join("b.toml"),
            GOOD.replace("id = \"demo\"", "id = \"pretrained\""),
        )
        .unwrap();
        std::fs::write(tmp.path().join("c.toml"), "id = ").unwrap();
        let cat = catalogue(Some(tmp.path()));
        assert!(cat.find("demo").is_ok());
        assert_eq!(cat.find("pretrained").unwrap().title, "A demo");
        assert_eq!(cat.problems.len(), 1);
        assert!(cat.problems[0].to_string().contains("c.toml"));
        let e = cat.find("nope").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("demo"), "{e}");
    }
}
