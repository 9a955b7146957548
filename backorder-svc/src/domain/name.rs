//! Fully qualified domain names as orders and the drop list carry them: validated once, held
//! in both forms (A-label canonical, U-label for display), with the registrable part found by
//! the Public Suffix List.

use std::fmt;

/// A registrable domain name: exactly one label under a public suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName {
    ascii: String,
    unicode: String,
    /// Bytes of `ascii` before the suffix's dot: the label that is registered.
    label_len: usize,
}

/// Why a name is refused: the rule that failed, with the label (quoted with
/// `domain::quote`, so a huge value stays a short message) and the offending character, so a
/// client can correct its input without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainNameError {
    #[error("must not be empty")]
    Empty,
    #[error("is {0} characters long; a domain name has at most 253 (in A-label form)")]
    TooLong(usize),
    #[error("has an empty label (a dot at the start, or two dots in a row)")]
    EmptyLabel,
    #[error("label {} is {length} characters long; a label has 1 to 63", crate::domain::quote(.label))]
    LabelTooLong { label: String, length: usize },
    #[error(
        "label {} holds {}: a label has only letters, digits and hyphens",
        crate::domain::quote(.label),
        describe_char(*.character)
    )]
    BadCharacter { label: String, character: char },
    #[error("label {} starts with a hyphen; a label must start with a letter or digit", crate::domain::quote(.0))]
    LeadingHyphen(String),
    #[error("label {} ends with a hyphen; a label must end with a letter or digit", crate::domain::quote(.0))]
    TrailingHyphen(String),
    #[error(
        "label {} has `--` in positions 3-4, which only IDN A-labels starting with `xn--` may have",
        crate::domain::quote(.0)
    )]
    HyphensAt34(String),
    #[error(
        "label {} starts with `xn--` but is not a valid IDN A-label (punycode that decodes to an allowed Unicode label)",
        crate::domain::quote(.0)
    )]
    BadALabel(String),
    #[error(
        "label {} is not a valid internationalized label: its characters are allowed, their combination is not (e.g. a combining mark first, or mixed directions)",
        crate::domain::quote(.0)
    )]
    BadUnicodeLabel(String),
    #[error("is not a valid domain name: {}", crate::domain::quote(.0))]
    Invalid(String),
    #[error("{} is a public suffix itself; name one domain under it", crate::domain::quote(.0))]
    IsSuffix(String),
    #[error(
        "{name:?} has more than one label below its public suffix; the registrable domain is {registrable:?}"
    )]
    BelowRegistrable { name: String, registrable: String },
}

/// A character as an error shows it: quoted, with its code point (a blank or an invisible
/// character is otherwise unreadable in a message).
fn describe_char(c: char) -> String {
    format!("`{}` (U+{:04X})", c.escape_debug(), u32::from(c))
}

/// Longest input (bytes) worth diagnosing label by label: more than this cannot map to 253
/// A-label characters (every character but the rare ignorable ones yields at least one), so
/// it is refused by its length without running IDNA over it.
const MAX_INPUT_BYTES: usize = 2048;

/// Dots as UTS 46 sees them: the ideographic and full-width forms separate labels too.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// The first rule a label in ASCII breaks, or `None` when it is a valid LDH label (an
/// `xn--` label is checked by IDNA itself).
fn ascii_label_error(label: &str) -> Option<DomainNameError> {
    let lower = label.to_ascii_lowercase();
    if let Some(bad) = lower
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(DomainNameError::BadCharacter {
            label: label.to_string(),
            character: bad,
        });
    }
    if lower.len() > 63 {
        return Some(DomainNameError::LabelTooLong {
            label: label.to_string(),
            length: lower.len(),
        });
    }
    if lower.starts_with('-') {
        return Some(DomainNameError::LeadingHyphen(label.to_string()));
    }
    if lower.ends_with('-') {
        return Some(DomainNameError::TrailingHyphen(label.to_string()));
    }
    if lower.get(2..4) == Some("--") {
        if !lower.starts_with("xn--") {
            return Some(DomainNameError::HyphensAt34(label.to_string()));
        }
        if idna::domain_to_ascii_strict(&lower).is_err() {
            return Some(DomainNameError::BadALabel(label.to_string()));
        }
    }
    None
}

/// Why IDNA refused `input`: the first label, in order, that breaks a rule. IDNA's own error
/// says nothing a client can act on.
fn diagnose(input: &str) -> DomainNameError {
    for label in input.split(is_dot) {
        if label.is_empty() {
            return DomainNameError::EmptyLabel;
        }
        if label.is_ascii() {
            if let Some(error) = ascii_label_error(label) {
                return error;
            }
            continue;
        }
        match idna::domain_to_ascii_strict(label) {
            Ok(ascii) if ascii.len() > 63 => {
                return DomainNameError::LabelTooLong {
                    label: label.to_string(),
                    length: ascii.len(),
                };
            }
            Ok(_) => {}
            Err(_) => {
                // The first character IDNA refuses on its own (a symbol, a blank, `_`), or
                // else the label as a whole (a combination of allowed characters).
                let bad = label.chars().find(|c| {
                    let mut buf = [0u8; 4];
                    idna::domain_to_ascii_strict(c.encode_utf8(&mut buf)).is_err()
                });
                return match bad {
                    Some(character) => DomainNameError::BadCharacter {
                        label: label.to_string(),
                        character,
                    },
                    None => DomainNameError::BadUnicodeLabel(label.to_string()),
                };
            }
        }
    }
    // Every label is fine alone: the whole is too long (253 in A-label form).
    match idna::domain_to_ascii(input) {
        Ok(ascii) if ascii.len() > 253 => DomainNameError::TooLong(ascii.len()),
        _ => DomainNameError::Invalid(input.to_string()),
    }
}

impl DomainName {
    /// Accepts Unicode or punycode, any case, with or without a trailing dot.
    pub fn parse(input: &str) -> Result<Self, DomainNameError> {
        let trimmed = input.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(DomainNameError::Empty);
        }
        if trimmed.len() > MAX_INPUT_BYTES {
            return Err(DomainNameError::TooLong(trimmed.chars().count()));
        }
        let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| diagnose(trimmed))?;
        if ascii.len() > 253 {
            return Err(DomainNameError::TooLong(ascii.len()));
        }
        for label in ascii.split('.') {
            if label.is_empty() {
                return Err(DomainNameError::EmptyLabel);
            }
            if let Some(error) = ascii_label_error(label) {
                return Err(error);
            }
        }
        // A suffix the list does not know counts as a TLD of its own (the list's default
        // rule): whether it is offered is the catalog's decision, with its own error.
        let suffix =
            psl::suffix(ascii.as_bytes()).ok_or_else(|| DomainNameError::Invalid(ascii.clone()))?;
        let suffix_len = suffix.as_bytes().len();
        if suffix_len == ascii.len() {
            return Err(DomainNameError::IsSuffix(ascii));
        }
        let before_suffix = &ascii[..ascii.len() - suffix_len - 1];
        if let Some(dot) = before_suffix.rfind('.') {
            return Err(DomainNameError::BelowRegistrable {
                registrable: ascii[dot + 1..].to_string(),
                name: ascii,
            });
        }
        let (unicode, errors) = idna::domain_to_unicode(&ascii);
        let unicode = if errors.is_ok() {
            unicode
        } else {
            ascii.clone()
        };
        Ok(Self {
            label_len: before_suffix.len(),
            ascii,
            unicode,
        })
    }

    /// The canonical A-label form ("xn--bcher-kva.com").
    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    /// The U-label form for display ("bücher.com").
    pub fn unicode(&self) -> &str {
        &self.unicode
    }

    /// The registered label in A-label form ("xn--bcher-kva").
    pub fn label(&self) -> &str {
        &self.ascii[..self.label_len]
    }

    /// The registered label in U-label form ("bücher").
    pub fn unicode_label(&self) -> &str {
        self.unicode.split('.').next().unwrap_or_default()
    }

    /// The public suffix the name is registered under ("com", "co.uk").
    pub fn suffix(&self) -> &str {
        &self.ascii[self.label_len + 1..]
    }

    /// The top-level domain (last label).
    pub fn tld(&self) -> &str {
        self.ascii.rsplit('.').next().unwrap_or_default()
    }

    pub fn is_idn(&self) -> bool {
        self.ascii.split('.').any(|label| label.starts_with("xn--"))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ascii)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_registrable_part_with_the_public_suffix_list() {
        let uk = DomainName::parse("Name.CO.UK.").unwrap();
        assert_eq!(
            (uk.ascii(), uk.label(), uk.suffix(), uk.tld()),
            ("name.co.uk", "name", "co.uk", "uk")
        );
        let co = DomainName::parse("name.com.co").unwrap();
        assert_eq!(co.suffix(), "com.co");
        assert_eq!(DomainName::parse("example.com").unwrap().suffix(), "com");
        // Unknown TLDs parse; the catalog refuses them.
        assert_eq!(DomainName::parse("name.zz").unwrap().suffix(), "zz");
    }

    #[test]
    fn keeps_idns_in_both_forms() {
        let unicode = DomainName::parse("bücher.com").unwrap();
        let puny = DomainName::parse("xn--bcher-kva.com").unwrap();
        assert_eq!(unicode, puny);
        assert_eq!(unicode.ascii(), "xn--bcher-kva.com");
        assert_eq!(unicode.unicode(), "bücher.com");
        assert_eq!(unicode.unicode_label(), "bücher");
        assert!(unicode.is_idn());
        assert!(!DomainName::parse("plain.com").unwrap().is_idn());
    }

    #[test]
    fn refuses_what_is_not_a_registrable_name() {
        let too_long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(DomainName::parse(&too_long).is_err());
        assert!(matches!(
            DomainName::parse("www.example.com"),
            Err(DomainNameError::BelowRegistrable { .. })
        ));
        assert!(matches!(
            DomainName::parse("com"),
            Err(DomainNameError::IsSuffix(_))
        ));
    }

    /// Each refusal names the rule that failed and the label (and character) at fault. On
    /// the old code these were "is not a valid domain name: ..." or a rule that did not say
    /// which part of it failed.
    #[test]
    fn refusals_say_which_rule_failed() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        let cases: [(&str, &str); 18] = [
            ("", "must not be empty"),
            ("-lead.com", "label `-lead` starts with a hyphen"),
            ("trail-.com", "label `trail-` ends with a hyphen"),
            ("under_score.com", "label `under_score` holds `_` (U+005F)"),
            ("two words.com", "label `two words` holds ` ` (U+0020)"),
            ("a..com", "has an empty label"),
            (".lead.com", "has an empty label"),
            ("ab--cd.com", "label `ab--cd` has `--` in positions 3-4"),
            ("xn--zz-.com", "ends with a hyphen"),
            (
                "xn--a.com",
                "label `xn--a` starts with `xn--` but is not a valid IDN A-label",
            ),
            (
                long_label.as_str(),
                "is 64 characters long; a label has 1 to 63",
            ),
            (
                long_name.as_str(),
                "is 308 characters long; a domain name has at most 253",
            ),
            ("bü@cher.com", "label `bü@cher` holds `@` (U+0040)"),
            ("a\u{a0}b.com", "label `a\u{a0}b` holds"),
            ("tab\tname.com", "holds `\\t` (U+0009)"),
            ("name!.com", "holds `!` (U+0021)"),
            ("com", "is a public suffix itself"),
            (
                "www.example.com",
                "the registrable domain is \"example.com\"",
            ),
        ];
        for (input, needle) in cases {
            let message = DomainName::parse(input).expect_err(input).to_string();
            assert!(message.contains(needle), "{input:?}: {message}");
        }
    }

    #[test]
    fn huge_or_hostile_input_gets_a_short_message_at_once() {
        let huge = "é".repeat(100_000);
        let started = std::time::Instant::now();
        let message = DomainName::parse(&huge).unwrap_err().to_string();
        assert!(message.contains("100000 characters long"), "{message}");
        let label = format!("{}.com", "_".repeat(1_000));
        let message = DomainName::parse(&label).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("(1000 characters)"), "{message}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
