//! A validated drop-list query (the `QueryDomainPendingDeleteList` parameters). Built at the
//! edge; the store compiles it to SQL, except the regular expression, which runs in Rust.

use super::filter::{FieldError, LabelFilter};
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
pub const MAX_LENGTH: i32 = 20;
pub const MAX_SCORE: i32 = 10;
/// Longest accepted pattern, and the compiled-program and lazy-DFA budgets of the regex
/// engine: a pattern that needs more is refused instead of eating memory.
pub const MAX_REGEX_CHARS: usize = 256;
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
pub const REGEX_DFA_LIMIT: usize = 2 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    #[default]
    Name,
    NameDesc,
    DeletionDay,
    DeletionDayDesc,
    FinalizationDate,
    FinalizationDateDesc,
    Score,
    ScoreDesc,
    /// A seeded shuffle: the same seed gives the same order, so pages do not overlap.
    Random(i64),
}

/// One `FINALIZATIONDATE` value: a whole UTC day or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizationPoint {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

/// A regular expression on the label, compiled by the `regex` crate: linear-time matching
/// (no backtracking) within fixed size limits, so no pattern can hang the server.
#[derive(Debug, Clone)]
pub struct LabelRegex {
    pattern: String,
    regex: regex::Regex,
}

impl PartialEq for LabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for LabelRegex {}

impl LabelRegex {
    pub fn new(pattern: &str) -> Result<Self, FieldError> {
        if pattern.chars().count() > MAX_REGEX_CHARS {
            return Err(FieldError::new(
                "regexp",
                format!("must be at most {MAX_REGEX_CHARS} characters"),
            ));
        }
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_LIMIT)
            .nest_limit(32)
            .build()
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(limit) => FieldError::new(
                    "regexp",
                    format!("is too large: it compiles to more than {limit} bytes"),
                ),
                other => FieldError::new(
                    "regexp",
                    format!(
                        "is not a valid regular expression: {}",
                        crate::domain::truncate(&one_line(&other.to_string()), 160)
                    ),
                ),
            })?;
        Ok(Self {
            pattern: pattern.to_string(),
            regex,
        })
    }

    pub fn is_match(&self, label: &str) -> bool {
        self.regex.is_match(label)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Runs of letters, digits and hyphens that every match must contain, found by a
    /// conservative reading of the pattern: only the top level (outside groups and classes)
    /// counts, a character followed by a quantifier is optional, and a pattern with a
    /// top-level alternation, inline flags or anything unclear gives none. The store uses
    /// the runs of 3+ characters to narrow the rows through the trigram indexes; the
    /// expression itself is still checked on every row, so a run missed costs speed, never a
    /// row. Runs are what `Keyword` accepts (no LIKE wildcards).
    pub fn required_literals(&self) -> Vec<String> {
        required_literals(&self.pattern)
    }
}

fn required_literals(pattern: &str) -> Vec<String> {
    if pattern.contains("(?") {
        return Vec::new();
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut runs = Vec::new();
    let mut run = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    // Ends the current run; `optional_last`: the run's last character was quantified.
    let end_run = |run: &mut String, runs: &mut Vec<String>, optional_last: bool| {
        if optional_last {
            run.pop();
        }
        if !run.is_empty() {
            runs.push(std::mem::take(run));
        }
        run.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                // An escape (`\.`, `\d`, `\x41`, `\p{L}`...): skip it and the letters and
                // digits after it, which may be part of it.
                end_run(&mut run, &mut runs, false);
                i += 2;
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
                continue;
            }
            '[' => {
                end_run(&mut run, &mut runs, false);
                // Skip the class: up to the first `]` that is not its first character;
                // a nested class or an escape inside makes the reading unclear.
                let mut j = i + 1;
                if chars.get(j) == Some(&'^') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    if chars[j] == '[' || chars[j] == '\\' {
                        return Vec::new();
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Vec::new();
                }
                i = j + 1;
                continue;
            }
            '(' => {
                end_run(&mut run, &mut runs, false);
                depth += 1;
            }
            ')' => {
                end_run(&mut run, &mut runs, false);
                depth = depth.saturating_sub(1);
            }
            '|' if depth == 0 => return Vec::new(),
            '?' | '*' | '+' => end_run(&mut run, &mut runs, true),
            '{' => {
                end_run(&mut run, &mut runs, true);
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
            }
            c if depth == 0 && (c.is_alphanumeric() || c == '-') => run.push(c),
            _ => end_run(&mut run, &mut runs, false),
        }
        i += 1;
    }
    end_run(&mut run, &mut runs, false);
    runs
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DropQuery {
    pub label: LabelFilter,
    pub deletion_days: Vec<NaiveDate>,
    pub finalization_points: Vec<FinalizationPoint>,
    /// Strictly after.
    pub min_finalization: Option<DateTime<Utc>>,
    /// Strictly before.
    pub max_finalization: Option<DateTime<Utc>>,
    pub lengths: Vec<i32>,
    pub scores: Vec<i32>,
    pub regexp: Option<LabelRegex>,
    pub order: OrderBy,
}

impl DropQuery {
    /// Cross-field and range rules; an error names the field and the rule.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.label.validate("")?;
        if let (Some(min), Some(max)) = (self.min_finalization, self.max_finalization)
            && min >= max
        {
            return Err(FieldError::new(
                "min_finalization_time",
                "must be earlier than max_finalization_time (both bounds are strict)",
            ));
        }
        for (i, length) in self.lengths.iter().enumerate() {
            if !(1..=MAX_LENGTH).contains(length) {
                return Err(FieldError::new(
                    format!("lengths[{i}]"),
                    format!("must be between 1 and {MAX_LENGTH}, got {length}"),
                ));
            }
        }
        for (i, score) in self.scores.iter().enumerate() {
            if !(1..=MAX_SCORE).contains(score) {
                return Err(FieldError::new(
                    format!("scores[{i}]"),
                    format!("must be between 1 and {MAX_SCORE}, got {score}"),
                ));
            }
        }
        Ok(())
    }
}

/// `FIRST` and `LIMIT`: a zero-based offset and a page size (default 100, at most 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub first: u64,
    pub limit: u32,
}

impl Paging {
    pub fn parse(first: i64, limit: i64) -> Result<Self, FieldError> {
        let first =
            u64::try_from(first).map_err(|_| FieldError::new("first", "must not be negative"))?;
        let limit = match limit {
            0 => DEFAULT_LIMIT,
            n if n < 0 => return Err(FieldError::new("limit", "must not be negative")),
            n if n > i64::from(MAX_LIMIT) => {
                return Err(FieldError::new(
                    "limit",
                    format!("must be at most {MAX_LIMIT}, got {n}"),
                ));
            }
            n => u32::try_from(n).unwrap_or(MAX_LIMIT),
        };
        Ok(Self { first, limit })
    }
}

/// The modulus of the seeded shuffle: a prime, so `x -> (a*x + b) mod P` is a permutation,
/// and small enough that `a*x + b` fits an i64 in both databases.
pub const SHUFFLE_PRIME: i64 = 2_147_483_647;

/// A stable per-domain key in `[0, SHUFFLE_PRIME)`, stored with the row.
pub fn shuffle_key(domain: &str) -> i64 {
    let digest = Sha256::digest(domain.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::try_from(u64::from_le_bytes(bytes) % SHUFFLE_PRIME.unsigned_abs()).unwrap_or(0)
}

/// The multiplier and offset a seed picks: `a` in `[1, P)`, `b` in `[0, P)`.
pub fn shuffle_params(seed: i64) -> (i64, i64) {
    // splitmix64: spreads nearby seeds (0, 1, 2...) over very different permutations.
    let mut z = u64::from_ne_bytes(seed.to_ne_bytes()).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let p = SHUFFLE_PRIME.unsigned_abs();
    let a = (z % (p - 1)) + 1;
    let b = (z >> 32) % p;
    (i64::try_from(a).unwrap_or(1), i64::try_from(b).unwrap_or(0))
}

/// A row's place in the seeded order (ties, which are impossible for distinct keys, would
/// fall back to the name).
pub fn random_rank(seed: i64, shuffle: i64) -> i64 {
    let (a, b) = shuffle_params(seed);
    (shuffle * a + b) % SHUFFLE_PRIME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(Paging::parse(0, 0).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(Paging::parse(5, 1000).unwrap().limit, 1000);
        assert_eq!(Paging::parse(0, 1001).unwrap_err().field, "limit");
        assert_eq!(Paging::parse(-1, 10).unwrap_err().field, "first");
    }

    #[test]
    fn bad_and_huge_patterns_are_refused() {
        assert!(LabelRegex::new("^a.*b$").is_ok());
        assert!(
            LabelRegex::new("(")
                .unwrap_err()
                .rule
                .contains("not a valid")
        );
        let huge = LabelRegex::new(r"\w{1000}\w{1000}").unwrap_err();
        assert!(huge.rule.contains("too large"), "{huge}");
        assert!(LabelRegex::new(&"a".repeat(300)).is_err());
    }

    #[test]
    fn required_literals_are_read_conservatively() {
        let lits = |p: &str| LabelRegex::new(p).unwrap().required_literals();
        assert_eq!(lits("^car.*shop$"), ["car", "shop"]);
        assert_eq!(lits("blue-sky"), ["blue-sky"]);
        // A quantified character is optional; classes, groups and escapes are skipped.
        assert_eq!(lits("cars?x"), ["car", "x"]);
        assert_eq!(lits("ab{2}cd"), ["a", "cd"]);
        assert_eq!(lits("[a-c]+garden(s|z)\\dtool"), ["garden"]);
        assert_eq!(lits("\\x41bc"), Vec::<String>::new());
        assert_eq!(lits("\\p{L}car"), ["car"]);
        assert_eq!(lits("bücher"), ["bücher"]);
        // Alternation at the top, inline flags, unclear classes: nothing is required.
        for pattern in ["car|shop", "(?i)car", "[[:alpha:]]car", "[a\\]]car"] {
            assert!(lits(pattern).is_empty(), "{pattern}");
        }
        // Inside a group an alternation is fine: the group is skipped.
        assert_eq!(lits("(a|b)shop"), ["shop"]);
    }

    #[test]
    fn contradictory_bounds_are_refused() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let query = DropQuery {
            min_finalization: Some(t),
            max_finalization: Some(t),
            ..Default::default()
        };
        assert_eq!(query.validate().unwrap_err().field, "min_finalization_time");
        let lengths = DropQuery {
            lengths: vec![3, 21],
            ..Default::default()
        };
        assert_eq!(lengths.validate().unwrap_err().field, "lengths[1]");
        let scores = DropQuery {
            scores: vec![0],
            ..Default::default()
        };
        assert_eq!(scores.validate().unwrap_err().field, "scores[0]");
    }

    #[test]
    fn the_shuffle_is_a_seeded_permutation() {
        let keys: Vec<i64> = ["a.com", "b.com", "c.com", "d.com"]
            .iter()
            .map(|d| shuffle_key(d))
            .collect();
        let ranks = |seed| {
            keys.iter()
                .map(|k| random_rank(seed, *k))
                .collect::<Vec<_>>()
        };
        assert_eq!(ranks(7), ranks(7));
        assert_ne!(ranks(7), ranks(8));
        let mut distinct = ranks(7);
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 4);
    }
}
