//! A drop-list name: one label directly below a public suffix, in A-label and U-label form,
//! with the label features the list is searched by.

use super::score::score;
use crate::domain::name::DomainName;

/// A registrable domain validated for the drop list. The zone is the public suffix from the
/// Public Suffix List (`psl`), so `example.co.uk` lies in `co.uk`, not in `uk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropName {
    /// A-label form, lower case (`xn--bcher-kva.com`).
    pub domain: String,
    /// U-label form (`bücher.com`).
    pub domain_unicode: String,
    /// The leftmost label in Unicode: what keywords, lengths and the regular expression see.
    pub label: String,
    pub zone: String,
    pub features: LabelFeatures,
}

/// Counts over the Unicode label; `length` is in characters, not octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelFeatures {
    pub length: i32,
    pub digits: i32,
    pub hyphens: i32,
    pub non_ascii: i32,
    pub idn: bool,
    pub score: i32,
}

impl LabelFeatures {
    pub fn of(label: &str) -> Self {
        let count = |f: fn(&char) -> bool| count_i32(label.chars().filter(f).count());
        let length = count_i32(label.chars().count());
        let digits = count(char::is_ascii_digit);
        let hyphens = count(|c| *c == '-');
        let non_ascii = count(|c| !c.is_ascii());
        Self {
            length,
            digits,
            hyphens,
            non_ascii,
            idn: non_ascii > 0,
            score: score(label),
        }
    }
}

fn count_i32(n: usize) -> i32 {
    // Labels are at most 63 octets, so this never saturates in practice.
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl DropName {
    /// Parses a name as found on a list: ASCII or Unicode, any case, an optional final dot.
    /// The error is a one-line reason for the import report.
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = DomainName::parse(input)
            .map_err(|e| format!("domain: {} {e}", crate::domain::quote(input.trim())))?;
        let label = name.unicode_label().to_string();
        Ok(Self {
            features: LabelFeatures::of(&label),
            domain: name.ascii().to_string(),
            domain_unicode: name.unicode().to_string(),
            zone: name.suffix().to_string(),
            label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_come_from_the_public_suffix_list() {
        let name = DropName::parse("Example.CO.UK.").unwrap();
        assert_eq!(
            (name.domain.as_str(), name.zone.as_str()),
            ("example.co.uk", "co.uk")
        );
        assert_eq!(name.label, "example");
        let idn = DropName::parse("bücher.com").unwrap();
        assert_eq!(idn.domain, "xn--bcher-kva.com");
        assert_eq!(idn.domain_unicode, "bücher.com");
        assert_eq!(
            (
                idn.features.length,
                idn.features.non_ascii,
                idn.features.idn
            ),
            (6, 1, true)
        );
        let same = DropName::parse("xn--bcher-kva.com").unwrap();
        assert_eq!(same, idn);
    }

    #[test]
    fn counts_digits_and_hyphens() {
        let f = DropName::parse("a-1-b22.net").unwrap().features;
        assert_eq!((f.length, f.digits, f.hyphens, f.idn), (7, 3, 2, false));
    }

    #[test]
    fn refuses_what_is_not_a_registrable_domain() {
        for bad in [
            "",
            "com",
            "co.uk",
            "www.example.com",
            "under_score.com",
            "-lead.com",
            "trail-.com",
            "sp ace.com",
            "a..com",
        ] {
            assert!(DropName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
