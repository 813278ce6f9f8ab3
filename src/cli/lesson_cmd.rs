//! `transference lesson`: list the lessons, or run one headless against a bundle (a lesson
//! whose step no longer works with that bundle exits non-zero naming the step).

use std::path::Path;

use clap::Args;
use serde_json::json;

use crate::device::DeviceRequest;
use crate::error::{Error, Result};
use crate::lessons::{load, run};

/// Arguments of `lesson`.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct LessonArgs {
    /// List the lessons (id and title).
    #[arg(long)]
    pub list: bool,
    /// Run the lesson with this id headless (with `--model BUNDLE`, against that bundle).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
}

/// Runs `lesson`; `lessons` is the extra folder of `--lessons`.
pub fn run(
    args: &LessonArgs,
    lessons: Option<&Path>,
    model: Option<&Path>,
    device: DeviceRequest,
    json_out: bool,
) -> Result<()> {
    let cat = load::catalogue(lessons);
    for p in &cat.problems {
        eprintln!("warning: {p}");
    }
    if args.list {
        if json_out {
            let list: Vec<_> = cat
                .lessons
                .iter()
                .map(|l| json!({"id": l.id, "title": l.title, "steps": l.steps.len(), "file": l.file}))
                .collect();
            println!("{}", json!({ "lessons": list }));
        } else {
            for l in &cat.lessons {
                println!("{:<16} {} ({} steps)", l.id, l.title, l.steps.len());
            }
        }
        return Ok(());
    }
    let Some(id) = &args.run else {
        return Err(Error::InvalidRequest(
            "lesson needs --list or --run ID".into(),
        ));
    };
    let lesson = cat.find(id)?;
    let report = run::run(lesson, model, device)?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| Error::Internal(e.to_string()))?
        );
    } else {
        println!(
            "lesson {}: {} steps passed",
            report.lesson,
            report.steps.len()
        );
        for s in &report.steps {
            println!("step {} \"{}\"", s.number, s.title);
            for line in s.actions.iter().chain(&s.checks) {
                println!("  {line}");
            }
        }
    }
    Ok(())
}
