//! Pure rules: no I/O, no clock reads. Values here are validated at the edge and cannot hold
//! bad data, so the layers below never check them again.

pub mod account;
pub mod allocation;
pub mod auction;
pub mod catalog;
pub mod drop_list;
pub mod event;
pub mod ledger;
pub mod lifecycle;
pub mod money;
pub mod name;

/// Characters of a bad value that an error message quotes.
pub const QUOTED_CHARS: usize = 64;

/// A bad value for an error message: in backquotes, cut to its first 64 characters and
/// followed by its length when longer, so a huge value never makes a huge message.
pub fn quote(value: &str) -> String {
    let count = value.chars().count();
    if count <= QUOTED_CHARS {
        format!("`{value}`")
    } else {
        let prefix: String = value.chars().take(QUOTED_CHARS).collect();
        format!("`{prefix}…` ({count} characters)")
    }
}

/// Text cut to at most `max` bytes (on a character boundary, with `…` when cut).
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod quote_tests {
    #[test]
    fn long_values_are_cut_and_measured() {
        assert_eq!(super::quote("abc"), "`abc`");
        let long = "é".repeat(100_000);
        let quoted = super::quote(&long);
        assert!(quoted.ends_with("…` (100000 characters)"), "{quoted}");
        assert!(quoted.len() < 200);
        let cut = super::truncate(&long, 101);
        assert!(cut.len() <= 101 && cut.ends_with('…'));
        assert_eq!(super::truncate("short", 10), "short");
    }
}
