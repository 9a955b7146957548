//! The public pending-delete list and its change log. The list keeps the registry's
//! publication order (the order names were added); every change gets a sequence number so
//! that a client can page through a snapshot and then follow the log without gaps.

use crate::schedule::Reveal;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub domain: String,
    pub tld: String,
    pub reveal: Reveal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    /// Left the list before dropping (restored).
    Removed,
    /// Released by the registry.
    Dropped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub sequence: i64,
    pub kind: ChangeKind,
    pub entry: Entry,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Feed {
    entries: BTreeMap<u64, Entry>,
    position: HashMap<String, u64>,
    next_position: u64,
    log: Vec<Change>,
}

/// One page of the list.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Opaque cursor for the next page; empty at the end.
    pub next_token: String,
    pub total: usize,
}

fn selected(tlds: &[String], entry: &Entry) -> bool {
    tlds.is_empty() || tlds.contains(&entry.tld)
}

impl Feed {
    pub fn sequence(&self) -> i64 {
        self.log.len() as i64
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, domain: &str) -> bool {
        self.position.contains_key(domain)
    }

    pub fn get(&self, domain: &str) -> Option<&Entry> {
        self.position.get(domain).and_then(|p| self.entries.get(p))
    }

    fn log(&mut self, kind: ChangeKind, entry: Entry, time: DateTime<Utc>) {
        let sequence = self.sequence() + 1;
        self.log.push(Change {
            sequence,
            kind,
            entry,
            time,
        });
    }

    pub fn add(&mut self, entry: Entry, time: DateTime<Utc>) {
        if self.position.contains_key(&entry.domain) {
            return;
        }
        let position = self.next_position;
        self.next_position += 1;
        self.position.insert(entry.domain.clone(), position);
        self.entries.insert(position, entry.clone());
        self.log(ChangeKind::Added, entry, time);
    }

    /// Takes a name off the list, logging why (`Removed` or `Dropped`).
    pub fn take(&mut self, domain: &str, kind: ChangeKind, time: DateTime<Utc>) {
        if let Some(position) = self.position.remove(domain)
            && let Some(entry) = self.entries.remove(&position)
        {
            self.log(kind, entry, time);
        }
    }

    pub fn page(&self, tlds: &[String], token: &str, size: usize) -> Result<Page, String> {
        let after = if token.is_empty() {
            None
        } else {
            Some(
                token
                    .strip_prefix("p")
                    .and_then(|p| p.parse::<u64>().ok())
                    .ok_or_else(|| {
                        format!("page_token `{token}` is not a token this feed issued")
                    })?,
            )
        };
        let start = after.map(|a| a + 1).unwrap_or(0);
        let mut entries = Vec::new();
        let mut last = None;
        for (position, entry) in self.entries.range(start..) {
            if entries.len() == size {
                break;
            }
            if selected(tlds, entry) {
                entries.push(entry.clone());
                last = Some(*position);
            }
        }
        let more =
            last.is_some_and(|l| self.entries.range(l + 1..).any(|(_, e)| selected(tlds, e)));
        let next_token = if more {
            format!("p{}", last.unwrap_or_default())
        } else {
            String::new()
        };
        let total = self.entries.values().filter(|e| selected(tlds, e)).count();
        Ok(Page {
            entries,
            next_token,
            total,
        })
    }

    /// Changes with a sequence above `after`, at most `limit` of them, filtered by TLD.
    pub fn changes_after(&self, after: i64, tlds: &[String], limit: usize) -> Vec<Change> {
        let start = usize::try_from(after.max(0))
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        self.log[start..]
            .iter()
            .filter(|c| selected(tlds, &c.entry))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The list as HEXONET publishes it: `domain;YYYY-MM-DD HH:MM:SS`, one a line.
    pub fn csv(&self, tlds: &[String]) -> String {
        let mut out = String::new();
        for entry in self.entries.values().filter(|e| selected(tlds, e)) {
            out.push_str(&entry.domain);
            out.push(';');
            out.push_str(
                &entry
                    .reveal
                    .drop_time
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string(),
            );
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Precision;

    fn entry(domain: &str, tld: &str) -> Entry {
        let at = DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Entry {
            domain: domain.into(),
            tld: tld.into(),
            reveal: Reveal {
                drop_time: at,
                window_end: at,
                precision: Precision::Exact,
            },
        }
    }

    #[test]
    fn pages_keep_their_place_when_names_leave() {
        let now = entry("x.com", "com").reveal.drop_time;
        let mut feed = Feed::default();
        for name in ["a.com", "b.uk", "c.com", "d.com", "e.com"] {
            feed.add(entry(name, name.rsplit('.').next().unwrap()), now);
        }
        let com = vec!["com".to_string()];
        let first = feed.page(&com, "", 2).unwrap();
        assert_eq!(
            first
                .entries
                .iter()
                .map(|e| e.domain.as_str())
                .collect::<Vec<_>>(),
            ["a.com", "c.com"]
        );
        assert_eq!(first.total, 4);
        feed.take("c.com", ChangeKind::Removed, now);
        let second = feed.page(&com, &first.next_token, 2).unwrap();
        assert_eq!(
            second
                .entries
                .iter()
                .map(|e| e.domain.as_str())
                .collect::<Vec<_>>(),
            ["d.com", "e.com"]
        );
        assert_eq!(second.next_token, "");
        assert!(feed.page(&com, "garbage", 2).is_err());
    }

    #[test]
    fn log_replays_changes_after_a_sequence() {
        let now = entry("x.com", "com").reveal.drop_time;
        let mut feed = Feed::default();
        feed.add(entry("a.com", "com"), now);
        feed.add(entry("b.com", "com"), now);
        let mark = feed.sequence();
        feed.take("a.com", ChangeKind::Dropped, now);
        feed.take("a.com", ChangeKind::Dropped, now);
        let changes = feed.changes_after(mark, &[], 10);
        assert_eq!(changes.len(), 1, "a name leaves the list once");
        assert_eq!(
            (changes[0].sequence, changes[0].kind),
            (3, ChangeKind::Dropped)
        );
        assert_eq!(feed.csv(&[]), "b.com;2026-03-02 19:00:00\n");
    }
}
