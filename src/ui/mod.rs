//! The explorer's panels. Data flows one way: panels read the session state and emit
//! [`Command`]s; the app turns commands into worker jobs; worker events update the state.
//! Nothing here touches a tensor or waits on the worker.

pub mod audio_controls;
pub mod audio_state;
pub mod batch_queue;
pub mod canvas;
pub mod code_page_panel;
pub mod code_pages;
pub mod code_strip;
pub mod command;
pub mod compare_panel;
pub mod compare_state;
pub mod dialogs;
pub mod drag_drop;
pub mod export;
pub mod failures;
pub mod frame_view;
pub mod generate_button;
pub mod input_tab;
pub mod input_view;
pub mod inputs_panel;
pub mod lessons_panel;
pub mod low_resource_panel;
pub mod map_canvas;
pub mod map_grid;
pub mod map_panel;
pub mod map_raster;
pub mod media;
pub mod model_panel;
pub mod no_encoders;
pub mod notifications;
pub mod record_panel;
pub mod retrieval_panel;
pub mod selection;
pub mod selection_panel;
pub mod session;
pub mod session_map;
pub mod state;
pub mod text;
pub mod theme;
pub mod transfer_panel;
pub mod usage_panel;
pub mod widgets;
pub mod zero_shot_panel;

pub use command::Command;
pub use widgets::{
    Icon, format_ms, icon, icon_button, modality_chip, muted, paint_icon, play_button, section,
};
