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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainNameError {
    #[error("must not be empty")]
    Empty,
    #[error("is not a valid domain name: {}", crate::domain::quote(.0))]
    Invalid(String),
    #[error("is longer than 253 characters")]
    TooLong,
    #[error("label {} must be 1 to 63 characters", crate::domain::quote(.0))]
    LabelLength(String),
    #[error(
        "label {} may hold only letters, digits and hyphens, not at its start or end",
        crate::domain::quote(.0)
    )]
    LabelCharacters(String),
    #[error("{} is a public suffix itself; name one domain under it", crate::domain::quote(.0))]
    IsSuffix(String),
    #[error(
        "{name:?} has more than one label below its public suffix; the registrable domain is {registrable:?}"
    )]
    BelowRegistrable { name: String, registrable: String },
}

impl DomainName {
    /// Accepts Unicode or punycode, any case, with or without a trailing dot.
    pub fn parse(input: &str) -> Result<Self, DomainNameError> {
        let trimmed = input.trim().trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(DomainNameError::Empty);
        }
        let ascii = idna::domain_to_ascii_strict(trimmed)
            .map_err(|_| DomainNameError::Invalid(trimmed.to_string()))?;
        if ascii.len() > 253 {
            return Err(DomainNameError::TooLong);
        }
        for label in ascii.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(DomainNameError::LabelLength(label.to_string()));
            }
            let ldh = label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ldh || label.starts_with('-') || label.ends_with('-') {
                return Err(DomainNameError::LabelCharacters(label.to_string()));
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
        let long = format!("{}.com", "a".repeat(64));
        let cases = [
            ("", "empty"),
            ("-lead.com", "hyphen"),
            ("trail-.com", "hyphen"),
            ("under_score.com", "characters"),
            (long.as_str(), "63"),
            ("com", "suffix"),
            ("co.uk", "suffix"),
            ("www.example.com", "below"),
            ("a..com", "valid"),
        ];
        for (input, _) in cases {
            assert!(DomainName::parse(input).is_err(), "{input:?} accepted");
        }
        let too_long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(DomainName::parse(&too_long).is_err());
        assert!(matches!(
            DomainName::parse("www.example.com"),
            Err(DomainNameError::BelowRegistrable { .. })
        ));
    }
}
