//! What both a query and a keyword alert select on: keywords in the label, zones and the
//! three filters. Alerts are matched here in Rust; queries compile the same rules to SQL.

/// A field-level validation failure: the field and the rule, for INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct FieldError {
    pub field: String,
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Catenation {
    #[default]
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeywordMatch {
    #[default]
    Any,
    Begin,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    NoHyphens,
    NoNumbers,
    NoIdns,
}

impl Catenation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::And => "AND",
            Self::Or => "OR",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::And, Self::Or]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

impl KeywordMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "ANY",
            Self::Begin => "BEGIN",
            Self::End => "END",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Any, Self::Begin, Self::End]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

impl Filter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoHyphens => "NOHYPHENS",
            Self::NoNumbers => "NONUMBERS",
            Self::NoIdns => "NOIDNS",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        [Self::NoHyphens, Self::NoNumbers, Self::NoIdns]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

pub const MAX_KEYWORDS: usize = 20;
pub const MAX_ZONES: usize = 100;

/// A keyword: lower case letters (any script), digits and hyphens, 1..63 characters. The
/// restriction keeps SQL `LIKE` wildcards out, so keywords never need escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keyword(String);

impl Keyword {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let lower = text.trim().to_lowercase();
        let count = lower.chars().count();
        if count == 0 || count > 63 {
            return Err(FieldError::new(field, "must be 1 to 63 characters"));
        }
        if !lower.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(FieldError::new(
                field,
                format!(
                    "{} may contain only letters, digits and hyphens",
                    crate::domain::quote(text)
                ),
            ));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, label: &str, how: KeywordMatch) -> bool {
        match how {
            KeywordMatch::Any => label.contains(&self.0),
            KeywordMatch::Begin => label.starts_with(&self.0),
            KeywordMatch::End => label.ends_with(&self.0),
        }
    }
}

/// A zone as stored: A-label, lower case, no dots at the ends ("com", "co.uk").
pub fn parse_zone(field: &str, text: &str) -> Result<String, FieldError> {
    let trimmed = text.trim().trim_matches('.');
    let ascii = idna::domain_to_ascii_strict(trimmed).map_err(|_| {
        FieldError::new(
            field,
            format!("{} is not a zone name", crate::domain::quote(text)),
        )
    })?;
    crate::domain::catalog::TldName::parse(&ascii)
        .map(|name| name.as_str().to_string())
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{} is not a zone name", crate::domain::quote(text)),
            )
        })
}

/// Keywords, zones and filters: the common part of a query and an alert.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelFilter {
    pub keywords: Vec<Keyword>,
    pub catenation: Catenation,
    pub keyword_match: KeywordMatch,
    pub zones: Vec<String>,
    pub filters: Vec<Filter>,
}

/// The facts about a listed name that a `LabelFilter` looks at.
#[derive(Debug, Clone, Copy)]
pub struct LabelFacts<'a> {
    pub label: &'a str,
    pub zone: &'a str,
    pub digits: i32,
    pub hyphens: i32,
    pub idn: bool,
}

impl LabelFilter {
    pub fn validate(&self, prefix: &str) -> Result<(), FieldError> {
        if self.keywords.len() > MAX_KEYWORDS {
            return Err(FieldError::new(
                format!("{prefix}keywords"),
                format!("at most {MAX_KEYWORDS} keywords"),
            ));
        }
        if self.zones.len() > MAX_ZONES {
            return Err(FieldError::new(
                format!("{prefix}zones"),
                format!("at most {MAX_ZONES} zones"),
            ));
        }
        Ok(())
    }

    pub fn matches(&self, facts: LabelFacts<'_>) -> bool {
        let keyword = |k: &Keyword| k.matches(facts.label, self.keyword_match);
        let keywords_ok = self.keywords.is_empty()
            || match self.catenation {
                Catenation::And => self.keywords.iter().all(keyword),
                Catenation::Or => self.keywords.iter().any(keyword),
            };
        let zone_ok = self.zones.is_empty() || self.zones.iter().any(|z| z == facts.zone);
        let filters_ok = self.filters.iter().all(|f| match f {
            Filter::NoHyphens => facts.hyphens == 0,
            Filter::NoNumbers => facts.digits == 0,
            Filter::NoIdns => !facts.idn,
        });
        keywords_ok && zone_ok && filters_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(label: &str) -> LabelFacts<'_> {
        LabelFacts {
            label,
            zone: "com",
            digits: 0,
            hyphens: 0,
            idn: false,
        }
    }

    #[test]
    fn keywords_combine_with_and_or_at_begin_end_any() {
        let kw = |s| Keyword::parse("keywords[0]", s).unwrap();
        let mut filter = LabelFilter {
            keywords: vec![kw("Blue"), kw("sky")],
            ..Default::default()
        };
        assert!(filter.matches(facts("blueskyhub")));
        assert!(!filter.matches(facts("bluehub")));
        filter.catenation = Catenation::Or;
        assert!(filter.matches(facts("bluehub")));
        filter.keyword_match = KeywordMatch::End;
        assert!(filter.matches(facts("bigsky")) && !filter.matches(facts("skybig")));
        filter.keyword_match = KeywordMatch::Begin;
        assert!(filter.matches(facts("skybig")) && !filter.matches(facts("bigsky")));
    }

    #[test]
    fn keywords_refuse_wildcards() {
        for bad in ["", "a%", "a_b", "a b", "a.b"] {
            assert!(Keyword::parse("keywords[0]", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_zone("zones[0]", ".CO.UK").unwrap(), "co.uk");
        assert!(parse_zone("zones[0]", "a b").is_err());
    }
}
