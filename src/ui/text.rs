//! Plain text helpers shared by the panels and the session (no egui).

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_strings() {
        assert_eq!(super::short("abc", 5), "abc");
        assert_eq!(super::short("abcdefgh", 5), "abcd…");
    }
}
