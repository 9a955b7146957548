//! Typed reading of a command's parameters: a missing one is 504 naming it, a malformed one
//! 505 naming it and the rule.

use super::reply::{Code, Reply};
use crate::domain::quote;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::collections::BTreeMap;

/// Entries of one list parameter (`DOMAIN0..N`, `KEYWORD0..N`).
pub const MAX_LIST_ENTRIES: usize = 1000;

/// A command's parameters, keys in upper case.
pub struct Params<'a> {
    all: &'a BTreeMap<String, String>,
}

impl<'a> Params<'a> {
    pub fn new(all: &'a BTreeMap<String, String>) -> Self {
        Self { all }
    }

    /// A parameter; an empty value counts as absent.
    pub fn optional(&self, key: &str) -> Option<&'a str> {
        self.all
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, key: &str) -> Result<&'a str, Reply> {
        self.optional(key)
            .ok_or_else(|| Reply::error(Code::MissingAttribute, key))
    }

    /// `KEY0`, `KEY1`, ... in index order, and a bare `KEY` first when given.
    pub fn list(&self, key: &str) -> Result<Vec<&'a str>, Reply> {
        let mut indexed: Vec<(u32, &'a str)> = Vec::new();
        for (name, value) in self.all.range(key.to_string()..) {
            let Some(rest) = name.strip_prefix(key) else {
                break;
            };
            if value.is_empty() {
                continue;
            }
            if rest.is_empty() {
                indexed.push((0, value));
            } else if let Ok(index) = rest.parse::<u32>()
                && rest.chars().all(|c| c.is_ascii_digit())
            {
                indexed.push((index.saturating_add(1), value));
            }
        }
        if indexed.len() > MAX_LIST_ENTRIES {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!(
                    "{key}: at most {MAX_LIST_ENTRIES} entries, got {}",
                    indexed.len()
                ),
            ));
        }
        indexed.sort_by_key(|(index, _)| *index);
        Ok(indexed.into_iter().map(|(_, value)| value).collect())
    }

    /// A whole number in `min..=max`.
    pub fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, Reply> {
        let Some(text) = self.optional(key) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
            _ => Err(Reply::error(
                Code::InvalidSyntax,
                format!(
                    "{key}: must be a whole number from {min} to {max}, got {}",
                    quote(text)
                ),
            )),
        }
    }

    /// `0` or `1`.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, Reply> {
        match self.optional(key) {
            None => Ok(None),
            Some("1") => Ok(Some(true)),
            Some("0") => Ok(Some(false)),
            Some(other) => Err(Reply::error(
                Code::InvalidSyntax,
                format!("{key}: must be 0 or 1, got {}", quote(other)),
            )),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` (UTC), or a whole day `YYYY-MM-DD` (its midnight).
    pub fn datetime(&self, key: &str) -> Result<Option<DateTime<Utc>>, Reply> {
        let Some(text) = self.optional(key) else {
            return Ok(None);
        };
        parse_datetime(text)
            .map(Some)
            .ok_or_else(|| date_error(key, text))
    }
}

pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|naive| naive.and_utc())
}

pub fn date_error(key: &str, text: &str) -> Reply {
    Reply::error(
        Code::InvalidSyntax,
        format!(
            "{key}: must be a date YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC), got {}",
            quote(text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lists_come_in_index_order() {
        let all = map(&[
            ("DOMAIN10", "k.com"),
            ("DOMAIN2", "c.com"),
            ("DOMAIN0", "a.com"),
            ("DOMAINS", "ignored"),
            ("ZONE", "com"),
        ]);
        let params = Params::new(&all);
        assert_eq!(params.list("DOMAIN").unwrap(), ["a.com", "c.com", "k.com"]);
        assert_eq!(params.list("ZONE").unwrap(), ["com"]);
    }

    #[test]
    fn missing_and_malformed_values_name_the_key() {
        let all = map(&[("LIMIT", "x"), ("NEW", "2"), ("FROM", "2020-13-01")]);
        let params = Params::new(&all);
        let missing = params.required("APPLICATION").unwrap_err();
        assert_eq!(missing.code(), Code::MissingAttribute);
        assert!(missing.description().ends_with("; APPLICATION"));
        assert!(
            params
                .int("LIMIT", 1, 10)
                .unwrap_err()
                .description()
                .contains("LIMIT")
        );
        assert!(
            params
                .flag("NEW")
                .unwrap_err()
                .description()
                .contains("NEW")
        );
        assert!(params.datetime("FROM").is_err());
        assert_eq!(
            parse_datetime("2020-08-28 17:00:00").unwrap().timestamp(),
            1_598_634_000
        );
    }
}
