//! The TLD catalog and price keys.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackorderClass {
    Backorder,
    LiteBackorder,
}

impl BackorderClass {
    pub const ALL: [Self; 2] = [Self::Backorder, Self::LiteBackorder];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backorder => "BACKORDER",
            Self::LiteBackorder => "LITEBACKORDER",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        match text {
            "BACKORDER" => Some(Self::Backorder),
            "LITEBACKORDER" => Some(Self::LiteBackorder),
            _ => None,
        }
    }
}

/// A catalog TLD name: a public suffix in A-label form, lower case, without leading or
/// trailing dots ("com", "co.uk", "xn--6frz82g").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TldName(String);

impl TldName {
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.trim().trim_start_matches('.').to_ascii_lowercase();
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let ok = !lower.is_empty() && lower.len() <= 253 && lower.split('.').all(label_ok);
        ok.then_some(Self(lower))
    }

    /// A new catalog name, validated like the labels of a domain name: one leading dot is
    /// dropped and ASCII is lower-cased; then labels of 1 to 63 letters, digits and hyphens
    /// (not at either end) separated by single dots (`co.uk`); a label with `--` in positions
    /// 3-4 must be an `xn--` A-label that decodes to valid Unicode (UTS 46 strict) and encodes
    /// back to itself; the last label is not all digits (`127.0.0.1`) and is not a
    /// special-use name (`localhost`, `test`, ...: RFC 2606, 6761, 6762, 7686, 9476).
    pub fn validate(text: &str) -> Result<Self, String> {
        let lower = text.strip_prefix('.').unwrap_or(text).to_ascii_lowercase();
        let quoted = || crate::domain::quote(text);
        if lower.is_empty() || lower.len() > 253 {
            return Err(format!("{} must be 1 to 253 characters", quoted()));
        }
        let labels: Vec<&str> = lower.split('.').collect();
        for label in &labels {
            let ldh = label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if label.is_empty()
                || label.len() > 63
                || !ldh
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(format!(
                    "{}: labels are 1 to 63 letters, digits and hyphens (not at either end), \
                     separated by single dots",
                    quoted()
                ));
            }
            if label.get(2..4) == Some("--") {
                let decoded = label
                    .strip_prefix("xn--")
                    .and_then(|_| {
                        let (unicode, errors) = idna::domain_to_unicode(label);
                        errors.is_ok().then_some(unicode)
                    })
                    .and_then(|unicode| idna::domain_to_ascii_strict(&unicode).ok())
                    .is_some_and(|ascii| ascii == *label);
                if !decoded {
                    return Err(format!(
                        "{}: a label with `--` in positions 3-4 must be a valid `xn--` A-label",
                        quoted()
                    ));
                }
            }
        }
        let top = labels.last().copied().unwrap_or_default();
        if top.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{}: the top-level label must not be all digits",
                quoted()
            ));
        }
        if SPECIAL_USE.contains(&top) {
            return Err(format!(
                "{}: `{top}` is a special-use name, not a registry's TLD",
                quoted()
            ));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Top-level names reserved for special use: never a registry's TLD.
const SPECIAL_USE: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
    "test",
];

/// Per-TLD settings (see spec/lifecycle.md and allocation-and-auctions.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tld {
    pub name: TldName,
    pub first_come_first_served: bool,
    pub third_level_allowed: bool,
    /// Extension field names an order must carry (upper case, e.g. "X-US-NEXUS-CATEGORY");
    /// "X-*" means "some registry extension fields are required" without naming them.
    pub required_extensions: Vec<String>,
    pub classes: Vec<BackorderClass>,
    pub finalization_lead: Duration,
    pub lock_lead: Duration,
    pub daily_deals: bool,
}

impl Tld {
    pub const DEFAULT_FINALIZATION_LEAD: Duration = Duration::from_secs(2 * 3600);
    pub const DEFAULT_LOCK_LEAD: Duration = Duration::from_secs(72 * 3600);

    pub fn new(name: TldName) -> Self {
        Self {
            name,
            first_come_first_served: false,
            third_level_allowed: false,
            required_extensions: Vec::new(),
            classes: BackorderClass::ALL.to_vec(),
            finalization_lead: Self::DEFAULT_FINALIZATION_LEAD,
            lock_lead: Self::DEFAULT_LOCK_LEAD,
            daily_deals: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tld_names_are_normalized_suffixes() {
        assert_eq!(TldName::parse(".COM").unwrap().as_str(), "com");
        assert_eq!(TldName::parse("co.uk").unwrap().as_str(), "co.uk");
        for bad in ["", ".", "a..b", "-x", "x-", "ü", "a b"] {
            assert!(TldName::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn new_catalog_names_are_validated_like_domain_labels() {
        for good in [
            "com",
            ".COM",
            "co.uk",
            "xn--6frz82g",
            "xn--p1ai",
            "me.uk",
            "a1",
            "x-y",
        ] {
            assert!(TldName::validate(good).is_ok(), "{good:?}");
        }
        for bad in [
            "localhost",
            "127.0.0.1",
            "xn--zz.com",
            "com.xn--zz",
            "99999999999999999999999",
            "ab--cd",
            "co.uk.",
            "co..uk",
            " com",
            "test",
            "ü",
            "",
        ] {
            assert!(TldName::validate(bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(100_000);
        assert!(TldName::validate(&long).unwrap_err().len() < 120);
    }
}
