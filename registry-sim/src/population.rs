//! Generates the names of a scenario's population from a small built-in word list with a
//! seeded RNG: dictionary words, two-word compounds, digits, hyphens and IDNs in the shares
//! the scenario asks for.

use rand::Rng;
use rand::seq::IndexedRandom;
use std::collections::HashSet;

/// Common English words: enough variety for realistic-looking drop lists.
pub const WORDS: &[&str] = &[
    "able", "acid", "aero", "agent", "alpha", "amber", "anchor", "apex", "apple", "arc", "art",
    "atlas", "aura", "auto", "axis", "baby", "bank", "base", "bay", "beach", "bear", "bee", "bell",
    "best", "bike", "bird", "blue", "boat", "bold", "book", "box", "brand", "bread", "brick",
    "bright", "buy", "cab", "cafe", "cake", "camp", "car", "card", "care", "cash", "cat", "cloud",
    "club", "coach", "code", "coin", "cool", "core", "craft", "crew", "cube", "cyber", "daily",
    "data", "deal", "deep", "delta", "desk", "dial", "diet", "dog", "door", "dream", "drive",
    "drop", "eagle", "earth", "east", "easy", "echo", "eco", "edge", "elite", "energy", "epic",
    "euro", "event", "expert", "express", "fair", "farm", "fast", "film", "fire", "first", "fish",
    "fit", "flash", "flex", "flow", "fly", "food", "forest", "fox", "free", "fresh", "fun", "fund",
    "game", "garden", "gear", "gift", "global", "go", "gold", "golf", "good", "green", "grid",
    "group", "grow", "guide", "hair", "happy", "harbor", "health", "heart", "hero", "hill", "home",
    "hope", "host", "hotel", "house", "hub", "idea", "ink", "iron", "jet", "job", "joy", "key",
    "kid", "king", "lab", "lake", "land", "law", "leaf", "life", "light", "line", "link", "lion",
    "live", "local", "logic", "loop", "love", "lucky", "magic", "mail", "map", "market", "max",
    "media", "metro", "mind", "mint", "mobile", "money", "moon", "motor", "music", "nano", "net",
    "new", "next", "nova", "oak", "ocean", "one", "open", "orbit", "pay", "peak", "pet", "photo",
    "pixel", "pizza", "plan", "play", "plus", "point", "power", "prime", "pro", "pure", "quest",
    "quick", "radio", "rain", "red", "rent", "river", "road", "rock", "royal", "run", "safe",
    "sail", "sale", "sea", "secure", "shop", "sky", "smart", "snap", "solar", "sound", "space",
    "spark", "sport", "star", "stone", "store", "studio", "sun", "super", "swift", "tech", "tree",
    "trip", "true", "trust", "urban", "vibe", "view", "villa", "vision", "vita", "wave", "web",
    "well", "west", "wild", "wind", "wine", "wise", "wolf", "wood", "work", "world", "yoga", "zen",
    "zone",
];

/// Unicode stems for IDN labels (Latin letters with diacritics, common on real lists).
const IDN_STEMS: &[&str] = &[
    "bücher",
    "café",
    "münchen",
    "straßen",
    "élan",
    "søren",
    "garçon",
    "jalapeño",
    "über",
    "crème",
    "fjärd",
    "smörgås",
    "niño",
    "räksmörgås",
    "pâtisserie",
    "zürich",
];

pub fn is_word(text: &str) -> bool {
    WORDS.binary_search(&text).is_ok()
}

pub fn is_two_words(text: &str) -> bool {
    (1..text.len())
        .filter(|i| text.is_char_boundary(*i))
        .any(|i| is_word(&text[..i]) && is_word(&text[i..]))
}

/// Shape of the generated labels (shares are probabilities in 0..=1).
#[derive(Clone, Debug, PartialEq)]
pub struct NameShape {
    pub min_length: usize,
    pub max_length: usize,
    pub two_word_share: f64,
    pub digit_share: f64,
    pub hyphen_share: f64,
    pub idn_share: f64,
}

impl Default for NameShape {
    fn default() -> Self {
        NameShape {
            min_length: 2,
            max_length: 20,
            two_word_share: 0.5,
            digit_share: 0.1,
            hyphen_share: 0.05,
            idn_share: 0.03,
        }
    }
}

/// Draws unique A-labels. `taken` spans every zone so that the same label rarely repeats.
pub fn generate_labels<R: Rng>(
    rng: &mut R,
    shape: &NameShape,
    count: usize,
    taken: &mut HashSet<String>,
) -> Vec<String> {
    let mut labels = Vec::with_capacity(count);
    while labels.len() < count {
        let mut label = draw_label(rng, shape);
        let length = crate::names::LabelFeatures::of(&label).length;
        if length < shape.min_length || length > shape.max_length {
            // Too long or short: keep the draw but bring it into range deterministically.
            label = fit_length(rng, label, shape);
        }
        if crate::names::DomainName::parse(&format!("{label}.test")).is_err() {
            continue;
        }
        if taken.insert(label.clone()) {
            labels.push(label);
        } else {
            // Collisions are common with a small word list: a numeric suffix keeps the mix.
            if label.starts_with("xn--") {
                continue;
            }
            let suffix = rng.random_range(2..1000).to_string();
            let keep = shape.max_length.saturating_sub(suffix.len()).max(1);
            let mut numbered: String = label.chars().take(keep).collect();
            while numbered.ends_with('-') {
                numbered.pop();
            }
            numbered.push_str(&suffix);
            if numbered.len() >= shape.min_length && taken.insert(numbered.clone()) {
                labels.push(numbered);
            }
        }
    }
    labels
}

fn draw_label<R: Rng>(rng: &mut R, shape: &NameShape) -> String {
    if rng.random_bool(shape.idn_share) {
        let stem = IDN_STEMS.choose(rng).copied().unwrap_or("café");
        let word = WORDS.choose(rng).copied().unwrap_or("web");
        let unicode = format!("{stem}{word}");
        return idna::domain_to_ascii(&unicode).unwrap_or_else(|_| word.to_string());
    }
    let first = WORDS.choose(rng).copied().unwrap_or("web");
    let mut label = first.to_string();
    if rng.random_bool(shape.two_word_share) {
        let second = WORDS.choose(rng).copied().unwrap_or("hub");
        if rng.random_bool(shape.hyphen_share) {
            label.push('-');
        }
        label.push_str(second);
    }
    if rng.random_bool(shape.digit_share) {
        let digits = rng.random_range(1..=3);
        for _ in 0..digits {
            label.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
    }
    label
}

fn fit_length<R: Rng>(rng: &mut R, label: String, shape: &NameShape) -> String {
    if label.starts_with("xn--") {
        // IDNs outside the range are replaced by a plain word rather than cut mid-encoding.
        let word = WORDS.choose(rng).copied().unwrap_or("web").to_string();
        return fit_length(rng, word, shape);
    }
    let mut label = label;
    label.truncate(shape.max_length);
    while label.ends_with('-') {
        label.pop();
    }
    while label.len() < shape.min_length {
        label.push(char::from(b'a' + rng.random_range(0..26u8)));
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::LabelFeatures;

    #[test]
    fn word_list_is_sorted_for_binary_search() {
        assert!(
            WORDS.windows(2).all(|w| w[0] < w[1]),
            "WORDS must stay sorted and unique"
        );
        assert!(is_word("garden"));
        assert!(is_two_words("gardenhub"));
    }

    #[test]
    fn same_seed_same_labels_within_shape() {
        let shape = NameShape {
            min_length: 3,
            max_length: 12,
            idn_share: 0.2,
            ..NameShape::default()
        };
        let a = generate_labels(
            &mut crate::rng::derive(1, &[b"t"]),
            &shape,
            300,
            &mut HashSet::new(),
        );
        let b = generate_labels(
            &mut crate::rng::derive(1, &[b"t"]),
            &shape,
            300,
            &mut HashSet::new(),
        );
        assert_eq!(a, b);
        assert_eq!(a.iter().collect::<HashSet<_>>().len(), 300);
        for label in &a {
            let f = LabelFeatures::of(label);
            assert!(
                (3..=12).contains(&f.length),
                "{label} has length {}",
                f.length
            );
        }
        assert!(a.iter().any(|l| l.starts_with("xn--")));
        assert!(a.iter().any(|l| l.bytes().any(|b| b.is_ascii_digit())));
    }
}
