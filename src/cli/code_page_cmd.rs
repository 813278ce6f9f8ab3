//! `transference code-page BUNDLE --code N`: everything the window's page of a code shows,
//! as text or (`--json`) one JSON object ([`crate::engine::code_page::CodePage`]).

use std::path::PathBuf;

use clap::Args;

use crate::engine::code_page::CodePage;
use crate::error::Result;

/// Arguments of `code-page`.
#[derive(Args, Debug, Clone)]
pub struct CodePageArgs {
    /// Bundle folder (default: `--model`, else the bundled default model).
    pub bundle: Option<PathBuf>,
    /// The code id (0 to codebook size - 1).
    #[arg(long)]
    pub code: u32,
}

/// Prints a page.
pub fn print(page: &CodePage, json_out: bool) -> Result<()> {
    if json_out {
        println!("{}", page.to_json()?);
    } else {
        print!("{}", page_text(page));
    }
    Ok(())
}

/// The page as text.
pub fn page_text(page: &CodePage) -> String {
    let f = &page.facts;
    let mut s = format!(
        "code {} of {} ({}): {} positions in {} items, {:.2} % of all {} assignments\n",
        f.code,
        f.codebook_size,
        page.model,
        f.positions,
        f.items,
        100.0 * f.share_of_assignments,
        f.total_positions
    );
    s.push_str(&format!("  {}\n", page.last_reset_text()));
    for u in &f.per_modality {
        s.push_str(&format!(
            "  {:<6} {} positions ({:.2} % of its {}), {} items\n",
            u.modality.name(),
            u.positions,
            100.0 * u.share_of_modality,
            u.modality_positions,
            u.items
        ));
    }
    let classes: Vec<String> = f
        .per_class
        .iter()
        .filter(|c| c.positions > 0)
        .map(|c| format!("{} {}", c.label, c.positions))
        .collect();
    if !classes.is_empty() {
        s.push_str(&format!("  per class: {}\n", classes.join(", ")));
    }
    for m in &f.position_maps {
        let uses: Vec<String> = m.uses.iter().map(u64::to_string).collect();
        let shape = match m.grid {
            Some([r, c]) => format!("{r}x{c} grid"),
            None => format!("{} positions", m.uses.len()),
        };
        s.push_str(&format!(
            "  {} positions ({shape}): {}\n",
            m.modality.name(),
            uses.join(" ")
        ));
    }
    for t in &f.top_items {
        let items: Vec<String> = t
            .items
            .iter()
            .map(|i| {
                let what = i.text.as_deref().or(i.label.as_deref()).unwrap_or("-");
                format!("#{} {what} x{}", i.index, i.positions)
            })
            .collect();
        if !items.is_empty() {
            s.push_str(&format!(
                "  used most by ({}): {}\n",
                t.modality.name(),
                items.join(", ")
            ));
        }
    }
    if !f.nearest_codes.is_empty() {
        let near: Vec<String> = f
            .nearest_codes
            .iter()
            .map(|n| format!("{} ({:.3})", n.code, n.l2_distance))
            .collect();
        s.push_str(&format!("  nearest codes: {}\n", near.join(", ")));
    }
    if !f.co_occurring.is_empty() {
        let co: Vec<String> = f
            .co_occurring
            .iter()
            .map(|c| format!("{} ({} items)", c.code, c.items))
            .collect();
        s.push_str(&format!("  co-occurs with: {}\n", co.join(", ")));
    }
    if let Some(img) = &page.decoded.image {
        s.push_str(&format!(
            "  decoded picture: {}x{}\n",
            img.width, img.height
        ));
    }
    if let Some(sound) = &page.decoded.sound {
        s.push_str(&format!(
            "  decoded sound: {:.2} s at {} Hz\n",
            sound.duration_secs, sound.sample_rate_hz
        ));
    }
    for n in &page.decoded.not_decoded {
        s.push_str(&format!(
            "  not decoded as {}: {}\n",
            n.modality.name(),
            n.reason
        ));
    }
    s
}
