//! The drop-list score: a deterministic 1..10 quality estimate of a label from its length,
//! dictionary words, digits and hyphens (docs/drop-list.md has the formula with examples).
//! Deterministic so that a score filter gives the same rows on every replica and every import.

use std::collections::HashSet;
use std::sync::OnceLock;

const WORD_FILE: &str = include_str!("../../../data/score-words.txt");

fn words() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        WORD_FILE
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

pub fn is_word(text: &str) -> bool {
    words().contains(text)
}

/// Short names are worth most: 3 characters or fewer earn the full 5 points.
fn length_points(length: usize) -> i32 {
    match length {
        0..=3 => 5,
        4..=5 => 4,
        6..=7 => 3,
        8..=10 => 2,
        11..=14 => 1,
        _ => 0,
    }
}

/// A single word earns 4, two words (hyphens ignored) 3, a word of 4+ letters inside 1.
fn word_points(label: &str) -> i32 {
    let letters: String = label.chars().filter(|c| *c != '-').collect();
    if is_word(&letters) {
        return 4;
    }
    let boundaries = letters.char_indices().map(|(i, _)| i).skip(1);
    let mut inner_word = false;
    for split in boundaries {
        let (left, right) = letters.split_at(split);
        if is_word(left) && is_word(right) {
            return 3;
        }
        inner_word |= (left.chars().count() >= 4 && is_word(left))
            || (right.chars().count() >= 4 && is_word(right));
    }
    if inner_word || contains_long_word(&letters) {
        1
    } else {
        0
    }
}

fn contains_long_word(letters: &str) -> bool {
    let chars: Vec<char> = letters.chars().collect();
    (0..chars.len()).any(|start| {
        (start + 4..=chars.len()).any(|end| is_word(&chars[start..end].iter().collect::<String>()))
    })
}

/// Digits cost a point each (at most 3), except in all-digit names, which are a category
/// of their own that buyers look for.
fn digit_penalty(label: &str) -> i32 {
    let digits = label.chars().filter(char::is_ascii_digit).count();
    if digits == label.chars().count() {
        0
    } else {
        i32::try_from(digits.min(3)).unwrap_or(3)
    }
}

fn hyphen_penalty(label: &str) -> i32 {
    let hyphens = label.chars().filter(|c| *c == '-').count();
    i32::try_from(hyphens.min(5) * 2).unwrap_or(10)
}

/// `clamp(1 + length + words - digits - hyphens, 1, 10)` over the Unicode label.
pub fn score(label: &str) -> i32 {
    let raw = 1 + length_points(label.chars().count()) + word_points(label)
        - digit_penalty(label)
        - hyphen_penalty(label);
    raw.clamp(1, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples() {
        // The examples in docs/drop-list.md: keep both in step.
        assert_eq!(score("car"), 10);
        assert_eq!(score("garden"), 8);
        assert_eq!(score("bluegarden"), 6);
        assert_eq!(score("blue-sky"), 4);
        assert_eq!(score("123"), 6);
        assert_eq!(score("gardenxyz"), 4);
        assert_eq!(score("bücher"), 4);
        assert_eq!(score("gx7-q2k9"), 1);
    }

    #[test]
    fn always_between_one_and_ten() {
        for label in [
            "a",
            "x",
            "a-b-c-d-e-f",
            "0",
            "abcdefghijklmnopqrstuvwxyz",
            "z9z9z9z9",
        ] {
            assert!((1..=10).contains(&score(label)), "{label}");
        }
    }
}
