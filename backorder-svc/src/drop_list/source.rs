//! Reading list files into numbered lines: the HEXONET zip (a semicolon CSV inside) and plain
//! CSV. A line that cannot be read becomes a bad line with its number and reason; only an
//! unreadable container (a broken zip) fails the whole file.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    HexonetZip,
    Csv,
}

impl FileFormat {
    /// Zip archives start with a local file header ("PK\x03\x04").
    pub fn guess(content: &[u8]) -> Self {
        if content.starts_with(b"PK\x03\x04") {
            Self::HexonetZip
        } else {
            Self::Csv
        }
    }
}

/// What a line said, or why it could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineParse {
    Entry {
        domain: String,
        drop_time: DateTime<Utc>,
        /// The end of the release window when the source publishes one (the registry feed);
        /// None for an exact time and for files, which do not say.
        window_end: Option<DateTime<Utc>>,
    },
    /// `domain` is kept when it could be read, so that a full-list import does not take a
    /// listed name for restored just because its line was bad.
    Bad {
        domain: Option<String>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based line number in the file (or position in the feed).
    pub line: u64,
    /// The line as read, shortened, for the report.
    pub content: String,
    pub parse: LineParse,
}

#[derive(Debug, thiserror::Error)]
#[error("content: {0}")]
pub struct FileError(pub String);

/// Decompressed bytes accepted from one archive: a zip bomb stops here.
const MAX_UNZIPPED: u64 = 1 << 30;
const MAX_CONTENT_CHARS: usize = 200;

pub fn read_file(content: &[u8], format: Option<FileFormat>) -> Result<Vec<SourceLine>, FileError> {
    match format.unwrap_or_else(|| FileFormat::guess(content)) {
        FileFormat::Csv => Ok(read_csv(content, None)),
        FileFormat::HexonetZip => read_zip(content),
    }
}

fn read_zip(content: &[u8]) -> Result<Vec<SourceLine>, FileError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(content))
        .map_err(|e| FileError(format!("not a readable zip archive: {e}")))?;
    let mut lines = Vec::new();
    let files = archive.len();
    let mut budget = MAX_UNZIPPED;
    for index in 0..files {
        let mut file = archive
            .by_index(index)
            .map_err(|e| FileError(format!("zip entry {index}: {e}")))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        let mut data = Vec::new();
        (&mut file)
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| FileError(format!("zip entry {name}: {e}")))?;
        let used = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if used > budget {
            return Err(FileError(format!(
                "the archive unpacks to more than {MAX_UNZIPPED} bytes"
            )));
        }
        budget -= used;
        // Several files: say which one a bad line is in.
        let label = (files > 1).then_some(name.as_str());
        lines.extend(read_csv(&data, label));
    }
    Ok(lines)
}

/// Semicolon when the first line has one (the HEXONET shape), else comma.
fn delimiter(content: &[u8]) -> u8 {
    let first = content.split(|b| *b == b'\n').next().unwrap_or_default();
    if first.contains(&b';') { b';' } else { b',' }
}

fn read_csv(content: &[u8], file: Option<&str>) -> Vec<SourceLine> {
    let delimiter = delimiter(content);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(content);
    // Line numbers come from byte offsets: the CSV reader's own line counter skips blank
    // lines and counts CRLF files differently, and the report must match an editor's view.
    let newlines: Vec<u64> = content
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| u64::try_from(i).unwrap_or(u64::MAX))
        .collect();
    // A record's position is where the reader started looking for it, which may be a blank
    // line, the `\n` of a CRLF or a comment before it: count from its first real byte.
    let line_at = |byte: u64| {
        let mut at = usize::try_from(byte).unwrap_or(usize::MAX);
        loop {
            while content.get(at).is_some_and(|b| *b == b'\r' || *b == b'\n') {
                at += 1;
            }
            if content.get(at) != Some(&b'#') {
                break;
            }
            at += content[at..]
                .iter()
                .position(|b| *b == b'\n')
                .unwrap_or(content.len() - at);
        }
        let at = u64::try_from(at).unwrap_or(u64::MAX);
        u64::try_from(newlines.partition_point(|n| *n < at)).unwrap_or(0) + 1
    };
    let mut lines = Vec::new();
    let mut last_line = 0;
    for (index, record) in reader.byte_records().enumerate() {
        let where_ = |reason: String| match file {
            Some(name) => format!("{name}: {reason}"),
            None => reason,
        };
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error
                    .position()
                    .map_or(last_line + 1, |p| line_at(p.byte()));
                last_line = line;
                lines.push(SourceLine {
                    line,
                    content: String::new(),
                    parse: LineParse::Bad {
                        domain: None,
                        reason: where_(format!("malformed CSV: {error}")),
                    },
                });
                continue;
            }
        };
        let line = record
            .position()
            .map_or(last_line + 1, |p| line_at(p.byte()));
        last_line = line;
        let fields: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        // An optional header line names the columns.
        if index == 0
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("domain"))
        {
            continue;
        }
        let content: String = fields
            .join(&char::from(delimiter).to_string())
            .chars()
            .take(MAX_CONTENT_CHARS)
            .collect();
        let parse = parse_fields(&record).map_err(where_);
        lines.push(SourceLine {
            line,
            content,
            parse: match parse {
                Ok(entry) => entry,
                Err(reason) => LineParse::Bad {
                    domain: record
                        .get(0)
                        .and_then(|f| std::str::from_utf8(f).ok())
                        .map(str::to_string),
                    reason,
                },
            },
        });
    }
    lines
}

fn parse_fields(record: &csv::ByteRecord) -> Result<LineParse, String> {
    if record.len() != 2 {
        return Err(format!(
            "malformed line: expected 2 fields (domain and drop date), found {}",
            record.len()
        ));
    }
    let text = |i: usize, field: &str| {
        std::str::from_utf8(&record[i]).map_err(|_| format!("{field}: is not valid UTF-8"))
    };
    let domain = text(0, "domain")?;
    let drop_time = parse_drop_time(text(1, "drop date")?)?;
    Ok(LineParse::Entry {
        domain: domain.to_string(),
        drop_time,
        window_end: None,
    })
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (the HEXONET shape), or RFC 3339 with an offset.
pub fn parse_drop_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Ok(naive.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("drop date: `{text}` is not a date `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_lines_with_numbers_and_reasons() {
        let text = b"domain;drop date\nexample.com;2026-03-02 19:00:00\n\nbad.com;tomorrow\none;two;three\n";
        let lines = read_file(text, None).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].line, 2);
        assert!(matches!(lines[0].parse, LineParse::Entry { .. }));
        assert_eq!(lines[1].line, 4);
        match &lines[1].parse {
            LineParse::Bad { domain, reason } => {
                assert_eq!(domain.as_deref(), Some("bad.com"));
                assert!(reason.starts_with("drop date:"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines[2].line, 5);
        assert!(
            matches!(&lines[2].parse, LineParse::Bad { reason, .. } if reason.contains("found 3"))
        );
    }

    #[test]
    fn comma_csv_and_rfc3339() {
        let lines = read_file(b"a.com,2026-03-02T19:00:00+01:00\n", Some(FileFormat::Csv)).unwrap();
        match &lines[0].parse {
            LineParse::Entry { drop_time, .. } => {
                assert_eq!(drop_time.to_rfc3339(), "2026-03-02T18:00:00+00:00");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_broken_zip_fails_the_file() {
        let error = read_file(b"PK\x03\x04garbage", None).unwrap_err();
        assert!(error.to_string().starts_with("content: not a readable zip"));
    }
}
