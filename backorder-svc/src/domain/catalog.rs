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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
}
