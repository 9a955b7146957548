//! The two writes of a drop-list import that differ per backend: reading what is stored for a
//! batch of names, and writing the batch. PostgreSQL reads the batch with one array parameter
//! and writes it with `COPY` into a temporary table and one set-based `INSERT ... SELECT`;
//! SQLite reads with `IN` lists and writes multi-row `INSERT`s of 1,000 rows (the same
//! statement text each time, so sqlx's statement cache prepares it once per connection)
//! with a large page cache for the length of the batch's transaction.
//!
//! `drop_list_sql.rs` is compiled for both backends and calls these through
//! `DropListBulk`, implemented for each driver's connection type. `fts_match` builds the
//! queries of SQLite's trigram index (migration 0008).

use crate::clock::to_micros;
use crate::domain::drop_list::query::shuffle_key;
use crate::store::drop_list::DropListEntry;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use std::future::Future;

/// Rows per statement when SQLite binds a list (18 parameters a row: 18,000, under SQLite's
/// 32,766 parameters per statement).
const SQLITE_CHUNK: usize = 1000;
/// SQLite's page cache during a batch's transaction, in KiB (`PRAGMA cache_size = -N`). A
/// batch of random names dirties pages all over the table's five indexes and the trigram
/// index; with the default 2 MiB cache most of them are spilled to the WAL and rewritten
/// several times within one transaction. The cache is put back before the commit, so the
/// memory is held only while a batch is written (dirty pages stay until the commit writes
/// them whatever the setting; clean pages above the limit are freed).
const SQLITE_BULK_CACHE_KIB: i64 = 256 * 1024;

/// What is stored for a name, to count inserted/updated/unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredDrop {
    pub drop_time: i64,
    pub finalization_at: i64,
    pub window_end: Option<i64>,
    pub removed: bool,
}

pub trait DropListBulk {
    /// Prepares the connection for a batch, inside its transaction; returns what `leave`
    /// needs to put back.
    fn enter(&mut self) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send;

    /// Undoes `enter`, before the commit.
    fn leave(&mut self, saved: Option<i64>)
    -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The stored rows of these names (absent names are not in the map).
    fn stored<'a>(
        &'a mut self,
        domains: &'a [&'a str],
    ) -> impl Future<Output = Result<HashMap<String, StoredDrop>, sqlx::Error>> + Send + 'a;

    /// Inserts the rows or, for names already stored, updates them and clears `removed_at`.
    /// Names are distinct.
    fn write<'a>(
        &'a mut self,
        rows: &'a [&'a DropListEntry],
        now: i64,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;
}

/// (domain, drop_time, finalization_at, drop_window_end, removed_at) as read back.
type StoredRow = (String, i64, i64, Option<i64>, Option<i64>);

fn stored_entry(
    (domain, drop_time, finalization_at, window_end, removed_at): StoredRow,
) -> (String, StoredDrop) {
    (
        domain,
        StoredDrop {
            drop_time,
            finalization_at,
            window_end,
            removed: removed_at.is_some(),
        },
    )
}

/// The update of a name already stored: everything but `first_seen_at`. A row's label is a
/// function of its domain, so setting it changes nothing in practice (and SQLite's trigram
/// index trigger only acts when it does change).
const ON_CONFLICT: &str = " ON CONFLICT (domain) DO UPDATE SET \
     domain_unicode = excluded.domain_unicode, label = excluded.label, \
     label_rev = excluded.label_rev, zone = excluded.zone, drop_time = excluded.drop_time, \
     finalization_at = excluded.finalization_at, drop_window_end = excluded.drop_window_end, \
     length = excluded.length, digits = excluded.digits, hyphens = excluded.hyphens, \
     non_ascii = excluded.non_ascii, idn = excluded.idn, score = excluded.score, \
     shuffle = excluded.shuffle, updated_at = excluded.updated_at, removed_at = NULL";

const WRITTEN_COLUMNS: &str = "domain, domain_unicode, label, label_rev, zone, drop_time, \
     finalization_at, drop_window_end, length, digits, hyphens, non_ascii, idn, score, shuffle";

fn reversed(label: &str) -> String {
    label.chars().rev().collect()
}

impl DropListBulk for sqlx::SqliteConnection {
    async fn enter(&mut self) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("PRAGMA cache_size")
            .fetch_one(&mut *self)
            .await?;
        let old: i64 = row.try_get(0)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"
        )))
        .execute(&mut *self)
        .await?;
        Ok(Some(old))
    }

    async fn leave(&mut self, saved: Option<i64>) -> Result<(), sqlx::Error> {
        if let Some(old) = saved {
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {old}")))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn stored<'a>(
        &'a mut self,
        domains: &'a [&'a str],
    ) -> Result<HashMap<String, StoredDrop>, sqlx::Error> {
        let mut stored = HashMap::new();
        for chunk in domains.chunks(SQLITE_CHUNK) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "SELECT domain, drop_time, finalization_at, drop_window_end, removed_at \
                 FROM drop_list WHERE domain IN (",
            );
            let mut list = qb.separated(", ");
            for domain in chunk {
                list.push_bind(*domain);
            }
            list.push_unseparated(")");
            let rows: Vec<StoredRow> = qb.build_query_as().fetch_all(&mut *self).await?;
            stored.extend(rows.into_iter().map(stored_entry));
        }
        Ok(stored)
    }

    async fn write<'a>(
        &'a mut self,
        rows: &'a [&'a DropListEntry],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(SQLITE_CHUNK) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(format!(
                "INSERT INTO drop_list ({WRITTEN_COLUMNS}, first_seen_at, updated_at, removed_at) "
            ));
            qb.push_values(chunk.iter(), |mut row, entry| {
                let f = entry.features;
                row.push_bind(entry.domain.as_str())
                    .push_bind(entry.domain_unicode.as_str())
                    .push_bind(entry.label.as_str())
                    .push_bind(reversed(&entry.label))
                    .push_bind(entry.zone.as_str())
                    .push_bind(to_micros(entry.drop_time))
                    .push_bind(to_micros(entry.finalization_at))
                    .push_bind(entry.window_end.map(to_micros))
                    .push_bind(f.length)
                    .push_bind(f.digits)
                    .push_bind(f.hyphens)
                    .push_bind(f.non_ascii)
                    .push_bind(f.idn)
                    .push_bind(f.score)
                    .push_bind(shuffle_key(&entry.domain))
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(None::<i64>);
            });
            qb.push(ON_CONFLICT);
            qb.build().execute(&mut *self).await?;
        }
        Ok(())
    }
}

/// One value of COPY's text format: backslash, tab, newline and carriage return escaped
/// (validated names contain none of them, but a stray one must not shift a column).
fn copy_text(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// One row of the staging table in COPY's text format.
fn copy_line(out: &mut String, entry: &DropListEntry) {
    use std::fmt::Write;
    let f = entry.features;
    for text in [
        entry.domain.as_str(),
        entry.domain_unicode.as_str(),
        entry.label.as_str(),
        reversed(&entry.label).as_str(),
        entry.zone.as_str(),
    ] {
        copy_text(out, text);
        out.push('\t');
    }
    let window_end = entry
        .window_end
        .map_or_else(|| "\\N".to_string(), |end| to_micros(end).to_string());
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{}\t{}\t{window_end}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        to_micros(entry.drop_time),
        to_micros(entry.finalization_at),
        f.length,
        f.digits,
        f.hyphens,
        f.non_ascii,
        if f.idn { "t" } else { "f" },
        f.score,
        shuffle_key(&entry.domain),
    );
}

/// COPY data is sent in pieces of about this many bytes, so a batch is never one big buffer.
const COPY_PIECE: usize = 256 * 1024;

impl DropListBulk for sqlx::PgConnection {
    async fn enter(&mut self) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }

    async fn leave(&mut self, _saved: Option<i64>) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn stored<'a>(
        &'a mut self,
        domains: &'a [&'a str],
    ) -> Result<HashMap<String, StoredDrop>, sqlx::Error> {
        // One array parameter: a single statement whatever the batch size.
        let rows: Vec<StoredRow> = sqlx::query_as(
            "SELECT domain, drop_time, finalization_at, drop_window_end, removed_at \
             FROM drop_list WHERE domain = ANY($1)",
        )
        .bind(domains)
        .fetch_all(&mut *self)
        .await?;
        Ok(rows.into_iter().map(stored_entry).collect())
    }

    async fn write<'a>(
        &'a mut self,
        rows: &'a [&'a DropListEntry],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        // A staging table private to this transaction (dropped at its end, so a pooled
        // connection carries nothing over), filled by COPY, then merged in one statement.
        sqlx::query(
            "CREATE TEMPORARY TABLE drop_list_stage (domain TEXT, domain_unicode TEXT, \
             label TEXT, label_rev TEXT, zone TEXT, drop_time BIGINT, finalization_at BIGINT, \
             drop_window_end BIGINT, length INTEGER, digits INTEGER, hyphens INTEGER, \
             non_ascii INTEGER, idn BOOLEAN, score INTEGER, shuffle BIGINT) ON COMMIT DROP",
        )
        .execute(&mut *self)
        .await?;
        let mut copy = self
            .copy_in_raw(&format!(
                "COPY drop_list_stage ({WRITTEN_COLUMNS}) FROM STDIN"
            ))
            .await?;
        let mut piece = String::with_capacity(COPY_PIECE + 1024);
        for entry in rows {
            copy_line(&mut piece, entry);
            if piece.len() >= COPY_PIECE {
                copy.send(piece.as_bytes()).await?;
                piece.clear();
            }
        }
        if !piece.is_empty() {
            copy.send(piece.as_bytes()).await?;
        }
        copy.finish().await?;
        // In name order: neighbouring names land on neighbouring primary-key pages.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO drop_list ({WRITTEN_COLUMNS}, first_seen_at, updated_at, removed_at) \
             SELECT {WRITTEN_COLUMNS}, $1, $1, NULL FROM drop_list_stage \
             ORDER BY domain COLLATE \"C\"{ON_CONFLICT}"
        )))
        .bind(now)
        .execute(&mut *self)
        .await?;
        Ok(())
    }
}

/// A keyword's trigrams that the SQLite query asks the trigram index for: at most this many
/// (a long keyword's trigrams overlap; every third one and the last cover it, and the
/// keyword is checked on the row anyway).
const MAX_TRIGRAMS: usize = 8;

/// The FTS5 query that narrows SQLite's keyword search to rows holding every trigram of the
/// keywords (AND), or of at least one keyword (OR); `None` when the index cannot narrow it:
/// a keyword shorter than 3 characters has no trigram, so under AND it adds nothing to the
/// index query and under OR it would need every row. The index finds a superset (trigrams
/// in any order); the caller keeps the exact keyword condition on the row.
///
/// Keywords hold only letters, digits and hyphens (`Keyword`), so they never need quoting
/// inside FTS5 strings.
pub fn fts_match<'k>(keywords: impl IntoIterator<Item = &'k str>, or: bool) -> Option<String> {
    let mut groups = Vec::new();
    for keyword in keywords {
        let chars: Vec<char> = keyword.chars().collect();
        if chars.len() < 3 {
            if or {
                return None;
            }
            continue;
        }
        let last = chars.len() - 3;
        let mut starts: Vec<usize> = (0..=last).step_by(3).collect();
        if starts.last() != Some(&last) {
            starts.push(last);
        }
        if starts.len() > MAX_TRIGRAMS {
            // Spread the kept trigrams over the keyword, the last one included.
            let step = starts.len().div_ceil(MAX_TRIGRAMS);
            let mut kept: Vec<usize> = starts.iter().copied().step_by(step).collect();
            if kept.last() != Some(&last) {
                kept.push(last);
            }
            starts = kept;
        }
        let trigrams: Vec<String> = starts
            .iter()
            .map(|&s| format!("\"{}\"", chars[s..s + 3].iter().collect::<String>()))
            .collect();
        groups.push(format!("({})", trigrams.join(" AND ")));
    }
    if groups.is_empty() {
        return None;
    }
    Some(groups.join(if or { " OR " } else { " AND " }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_trigram_queries_and_short_ones_fall_back() {
        assert_eq!(fts_match(["car"], false).unwrap(), "(\"car\")");
        assert_eq!(
            fts_match(["garden", "ab"], false).unwrap(),
            "(\"gar\" AND \"den\")"
        );
        assert_eq!(
            fts_match(["blue", "sky"], true).unwrap(),
            "(\"blu\" AND \"lue\") OR (\"sky\")"
        );
        assert_eq!(
            fts_match(["bücher"], false).unwrap(),
            "(\"büc\" AND \"her\")"
        );
        // Under AND a short keyword is only checked on the row; under OR it needs every row.
        assert_eq!(fts_match(["ab"], false), None);
        assert_eq!(fts_match(["car", "ab"], true), None);
        assert_eq!(fts_match([], false), None);
        let long = "a".repeat(63);
        let query = fts_match([long.as_str()], false).unwrap();
        assert!(query.matches("AND").count() < MAX_TRIGRAMS + 1, "{query}");
    }

    #[test]
    fn copy_text_escapes_what_would_shift_a_column() {
        let mut out = String::new();
        copy_text(&mut out, "a\tb\\c\nd\re");
        assert_eq!(out, "a\\tb\\\\c\\nd\\re");
    }
}
