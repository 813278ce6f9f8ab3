//! The Lessons panel: the list of lessons, the open step (paragraph and question), Back,
//! "Do it" and Next, and what the step's actions and checks came to. Navigation changes the
//! persisted [`Settings::lesson`]; "Do it" asks the app to run the step
//! ([`Command::DoLessonStep`]; the app turns each action into the commands its own buttons send).

use egui::{RichText, Ui};

use crate::lessons::Lesson;
use crate::ui::state::{LessonPosition, Settings};
use crate::ui::{Command, muted, section, theme};

/// The button that runs the step's actions.
pub const DO_IT_LABEL: &str = "Do it";
/// The button to the next step.
pub const NEXT_LABEL: &str = "Next";
/// The button to the previous step.
pub const BACK_LABEL: &str = "Back";

/// Start of a check's line when it held.
pub const CHECK_PASSED: &str = "As expected";
/// Start of a check's line when it did not hold.
pub const CHECK_FAILED: &str = "Not as expected";

/// Where the open step's run is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StepStatus {
    /// Not run since it was opened.
    #[default]
    NotRun,
    /// Running: `done` of `total` actions, and what it waits for.
    Running {
        done: usize,
        total: usize,
        waiting: String,
    },
    /// Every action ran; each check described with what was seen (`Ok` passed).
    Done {
        checks: Vec<(String, crate::lessons::check::Verdict)>,
    },
    /// An action failed: which and why.
    Failed(String),
}

/// The lesson at `pos` (the first one when its id is unknown) and its index.
pub fn current<'a>(lessons: &'a [Lesson], pos: &LessonPosition) -> Option<(usize, &'a Lesson)> {
    let i = pos
        .id
        .as_ref()
        .and_then(|id| lessons.iter().position(|l| &l.id == id))
        .unwrap_or(0);
    lessons.get(i).map(|l| (i, l))
}

/// The panel as the window's left side panel.
pub fn side(
    ui: &mut Ui,
    lessons: &[Lesson],
    settings: &mut Settings,
    status: &StepStatus,
    commands: &mut Vec<Command>,
) {
    egui::Panel::left("lessons-panel")
        .default_size(380.0)
        .size_range(300.0..=560.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.add_space(6.0);
                show(ui, lessons, settings, status, commands);
            });
        });
}

/// Draws the panel. `status` is the open step's run status.
pub fn show(
    ui: &mut Ui,
    lessons: &[Lesson],
    settings: &mut Settings,
    status: &StepStatus,
    commands: &mut Vec<Command>,
) {
    ui.label(
        RichText::new("Lessons")
            .heading()
            .color(theme::strong_text()),
    );
    let Some((index, lesson)) = current(lessons, &settings.lesson) else {
        muted(
            ui,
            "No lessons found. Put lesson .toml files in the user data folder's \
             transference/lessons, or start with --lessons DIR.",
        );
        return;
    };
    for (i, l) in lessons.iter().enumerate() {
        if ui
            .selectable_label(i == index, &l.title)
            .on_hover_text(&l.summary)
            .clicked()
            && i != index
        {
            settings.lesson = LessonPosition {
                id: Some(l.id.clone()),
                step: 0,
            };
        }
    }
    ui.separator();
    let n = lesson.steps.len();
    let step_index = settings.lesson.step.min(n - 1);
    let step = &lesson.steps[step_index];
    muted(ui, format!("Step {} of {n}", step_index + 1));
    ui.label(RichText::new(&step.title).heading().color(theme::accent()));
    ui.add_space(4.0);
    ui.label(&step.text);
    ui.add_space(6.0);
    section(ui, "Question", |ui| {
        ui.label(
            RichText::new(&step.question)
                .italics()
                .color(theme::strong_text()),
        );
    });
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let mut go = |to: usize| {
            settings.lesson = LessonPosition {
                id: Some(lesson.id.clone()),
                step: to,
            };
        };
        if ui
            .add_enabled(step_index > 0, egui::Button::new(BACK_LABEL))
            .clicked()
        {
            go(step_index - 1);
        }
        let running = matches!(status, StepStatus::Running { .. });
        if ui
            .add_enabled(
                !step.actions.is_empty() && !running,
                egui::Button::new(RichText::new(DO_IT_LABEL).strong()),
            )
            .on_hover_text("Make the app do this step")
            .clicked()
        {
            commands.push(Command::DoLessonStep);
        }
        if ui
            .add_enabled(step_index + 1 < n, egui::Button::new(NEXT_LABEL))
            .clicked()
        {
            go(step_index + 1);
        }
    });
    if !step.actions.is_empty() {
        ui.add_space(4.0);
        muted(ui, "Do it will:");
        for a in &step.actions {
            muted(ui, format!("  {}", a.describe()));
        }
    }
    show_status(ui, status);
}

fn show_status(ui: &mut Ui, status: &StepStatus) {
    match status {
        StepStatus::NotRun => {}
        StepStatus::Running {
            done,
            total,
            waiting,
        } => {
            ui.horizontal(|ui| {
                ui.spinner();
                muted(ui, format!("{done}/{total} done; waiting for {waiting}"));
            });
        }
        StepStatus::Failed(reason) => {
            ui.label(RichText::new(format!("Could not do it: {reason}")).color(theme::error()));
        }
        StepStatus::Done { checks } => {
            ui.label(RichText::new("Done.").color(theme::success()));
            for (what, verdict) in checks {
                let seen = &verdict.seen;
                let (line, color) = if verdict.passed {
                    (format!("{CHECK_PASSED}: {seen}"), theme::success())
                } else {
                    (
                        format!("{CHECK_FAILED}: expected {what}, but {seen}"),
                        theme::warning(),
                    )
                };
                ui.label(RichText::new(line).color(color));
            }
        }
    }
}
