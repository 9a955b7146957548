//! Domain-name syntax as the registry enforces it (EPP result 2005 when violated), the label
//! features rivals' interest models look at, and the 1..10 quality score.

use std::fmt;

/// A syntactically valid, lower-cased domain name in A-label (punycode) form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName {
    ascii: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SyntaxError(pub String);

impl DomainName {
    /// Accepts Unicode (converted with IDNA) or ASCII input; a trailing dot is ignored.
    pub fn parse(input: &str) -> Result<Self, SyntaxError> {
        let trimmed = input.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(SyntaxError("domain name is empty".into()));
        }
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(trimmed)
                .map_err(|_| SyntaxError(format!("`{input}` is not a valid IDN")))?
        };
        if ascii.len() > 253 {
            return Err(SyntaxError(format!("`{input}` is longer than 253 octets")));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(SyntaxError(format!("`{input}` has no TLD")));
        }
        for label in &labels {
            check_label(label).map_err(|why| SyntaxError(format!("`{input}`: {why}")))?;
        }
        let tld = labels[labels.len() - 1];
        if !tld.bytes().all(|b| b.is_ascii_alphabetic()) && !tld.starts_with("xn--") {
            return Err(SyntaxError(format!(
                "`{input}`: TLD `{tld}` is not alphabetic"
            )));
        }
        Ok(DomainName { ascii })
    }

    pub fn as_str(&self) -> &str {
        &self.ascii
    }

    /// The leftmost label (the part a registrant chooses).
    pub fn label(&self) -> &str {
        self.ascii.split('.').next().unwrap_or_default()
    }

    /// Everything right of the leftmost label (`com`, `co.uk`).
    pub fn zone(&self) -> &str {
        self.ascii
            .split_once('.')
            .map(|(_, z)| z)
            .unwrap_or_default()
    }

    pub fn tld(&self) -> &str {
        self.ascii.rsplit('.').next().unwrap_or_default()
    }

    pub fn features(&self) -> LabelFeatures {
        LabelFeatures::of(self.label())
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ascii)
    }
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("empty label".into());
    }
    if label.len() > 63 {
        return Err(format!("label `{label}` is longer than 63 octets"));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "label `{label}` has characters other than letters, digits and hyphens"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label `{label}` starts or ends with a hyphen"));
    }
    // IDNA2008 reserves `??--` for A-labels; only `xn--` is in use.
    if label.len() >= 4 && &label[2..4] == "--" && !label.starts_with("xn--") {
        return Err(format!("label `{label}` has hyphens in positions 3 and 4"));
    }
    if let Some(encoded) = label.strip_prefix("xn--")
        && idna::punycode::decode_to_string(encoded).is_none()
    {
        return Err(format!("label `{label}` is not valid punycode"));
    }
    Ok(())
}

/// What a drop-catcher looks at when it decides whether a name is worth chasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelFeatures {
    /// Length in characters of the Unicode form.
    pub length: usize,
    pub digits: usize,
    pub hyphens: usize,
    pub idn: bool,
    /// 1 (poor) to 10 (excellent); see [`score`].
    pub score: u8,
}

impl LabelFeatures {
    pub fn of(ascii_label: &str) -> Self {
        let unicode = match ascii_label.strip_prefix("xn--") {
            Some(encoded) => {
                idna::punycode::decode_to_string(encoded).unwrap_or_else(|| ascii_label.into())
            }
            None => ascii_label.to_string(),
        };
        let idn = ascii_label.starts_with("xn--");
        let length = unicode.chars().count();
        let digits = unicode.chars().filter(char::is_ascii_digit).count();
        let hyphens = unicode.chars().filter(|c| *c == '-').count();
        let score = score(&unicode, length, digits, hyphens, idn);
        LabelFeatures {
            length,
            digits,
            hyphens,
            idn,
            score,
        }
    }
}

/// A deterministic quality estimate: short names and dictionary words score high; digits,
/// hyphens and IDNs cost points (they are harder to say and to type). Clamped to 1..=10.
pub fn score(unicode_label: &str, length: usize, digits: usize, hyphens: usize, idn: bool) -> u8 {
    let mut points: i32 = match length {
        0..=3 => 10,
        4..=5 => 9,
        6..=7 => 8,
        8..=10 => 6,
        11..=14 => 4,
        _ => 2,
    };
    let letters: String = unicode_label
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    if crate::population::is_word(&letters) {
        points += 2;
    } else if crate::population::is_two_words(&letters) {
        points += 1;
    }
    // All-digit short labels are collectible; digits mixed into words are not.
    if digits > 0 && digits < length {
        points -= (digits as i32).min(3);
    }
    points -= 2 * hyphens as i32;
    if idn {
        points -= 1;
    }
    points.clamp(1, 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalizes() {
        let name = DomainName::parse("Example.COM.").unwrap();
        assert_eq!(name.as_str(), "example.com");
        assert_eq!(name.label(), "example");
        assert_eq!(name.zone(), "com");
        let third = DomainName::parse("shop.co.uk").unwrap();
        assert_eq!(third.zone(), "co.uk");
        assert_eq!(third.tld(), "uk");
    }

    #[test]
    fn converts_unicode_to_a_labels() {
        let name = DomainName::parse("münchen.de").unwrap();
        assert_eq!(name.as_str(), "xn--mnchen-3ya.de");
        let features = name.features();
        assert!(features.idn);
        assert_eq!(features.length, 7);
    }

    #[test]
    fn refuses_bad_syntax() {
        for bad in [
            "",
            "com",
            "-abc.com",
            "abc-.com",
            "a_b.com",
            "ab--cd.com",
            "a..com",
            "abc.c0m",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad} should be refused");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(DomainName::parse(&long).is_err());
    }

    #[test]
    fn scores_words_above_noise() {
        let word = LabelFeatures::of("garden").score;
        let noise = LabelFeatures::of("gx7-q2k9").score;
        assert!(word > noise, "{word} vs {noise}");
        assert!((1..=10).contains(&noise));
        assert_eq!(LabelFeatures::of("abc").score, 10);
    }
}
