//! Reading list files into numbered lines: the HEXONET zip (a semicolon CSV inside) and plain
//! CSV. A line that cannot be read becomes a bad line with its number and reason; only an
//! unreadable container (a broken zip) fails the whole file.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::io::{BufRead, Read};

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

/// Limits of one file, checked while it is read (never after unpacking it whole), so memory
/// stays bounded whatever the input: a zip bomb stops at the first limit it crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The file as given (the zip itself, or the CSV).
    pub max_file_bytes: u64,
    /// Bytes unpacked from all entries of an archive (or the CSV's own size).
    pub max_unpacked_bytes: u64,
    /// One line, without its line end.
    pub max_line_bytes: usize,
    /// Lines of all entries together (blank and comment lines count).
    pub max_lines: u64,
}

/// The limits of `ImportFile` and `import-drop-list` (docs/drop-list.md, "Limits").
pub const LIMITS: Limits = Limits {
    max_file_bytes: 64 << 20,
    max_unpacked_bytes: 256 << 20,
    max_line_bytes: 1024,
    max_lines: 2_000_000,
};

const MAX_CONTENT_CHARS: usize = 200;

/// Reads the whole file into lines (tests and small files; imports stream with
/// [`stream_file`]).
pub fn read_file(content: &[u8], format: Option<FileFormat>) -> Result<Vec<SourceLine>, FileError> {
    let mut lines = Vec::new();
    stream_file(content, format, &LIMITS, &mut |line| {
        lines.push(line);
        true
    })?;
    Ok(lines)
}

/// Reads the file against the limits without parsing a line: the number of lines, or the
/// first limit crossed (or the broken container). Cheap enough to run before an import, so
/// that a file over a limit is refused before anything is written.
pub fn check_file(
    content: &[u8],
    format: Option<FileFormat>,
    limits: &Limits,
) -> Result<u64, FileError> {
    read_all(content, format, limits, None)
}

/// Hands every line to `sink` in order (a `false` from the sink stops the reading), checking
/// the limits as it goes. Returns the number of physical lines read.
pub fn stream_file(
    content: &[u8],
    format: Option<FileFormat>,
    limits: &Limits,
    sink: &mut dyn FnMut(SourceLine) -> bool,
) -> Result<u64, FileError> {
    read_all(content, format, limits, Some(sink))
}

/// What has been read so far, against the limits.
struct Budget<'a> {
    limits: &'a Limits,
    bytes: u64,
    lines: u64,
}

fn read_all(
    content: &[u8],
    format: Option<FileFormat>,
    limits: &Limits,
    mut sink: Option<&mut dyn FnMut(SourceLine) -> bool>,
) -> Result<u64, FileError> {
    let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
    if size > limits.max_file_bytes {
        return Err(FileError(format!(
            "is {size} bytes, over the limit of {} bytes for a file",
            limits.max_file_bytes
        )));
    }
    let mut budget = Budget {
        limits,
        bytes: 0,
        lines: 0,
    };
    match format.unwrap_or_else(|| FileFormat::guess(content)) {
        FileFormat::Csv => {
            read_lines(content, None, &mut budget, &mut sink)?;
        }
        FileFormat::HexonetZip => {
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(content))
                .map_err(|e| FileError(format!("not a readable zip archive: {e}")))?;
            let files = archive.len();
            for index in 0..files {
                let file = archive
                    .by_index(index)
                    .map_err(|e| FileError(format!("zip entry {index}: {e}")))?;
                if file.is_dir() {
                    continue;
                }
                let name = file.name().to_string();
                // Several files: say which one a bad line is in.
                let label = (files > 1).then_some(name.as_str());
                // At most one byte past the budget is ever unpacked.
                let left = limits.max_unpacked_bytes.saturating_sub(budget.bytes) + 1;
                let reader = std::io::BufReader::new(file.take(left));
                let stopped = read_lines(reader, label, &mut budget, &mut sink)
                    .map_err(|FileError(e)| FileError(format!("zip entry {name}: {e}")))?;
                if stopped {
                    break;
                }
            }
        }
    }
    Ok(budget.lines)
}

/// Semicolon when the first line has one (the HEXONET shape), else comma.
fn delimiter(first_line: &[u8]) -> u8 {
    if first_line.contains(&b';') {
        b';'
    } else {
        b','
    }
}

/// Reads physical lines (so line numbers are those an editor shows), skipping blank lines and
/// `#` comments; each line is one CSV record. Returns whether the sink asked to stop.
fn read_lines(
    mut reader: impl std::io::BufRead,
    file: Option<&str>,
    budget: &mut Budget<'_>,
    sink: &mut Option<&mut dyn FnMut(SourceLine) -> bool>,
) -> Result<bool, FileError> {
    let limits = budget.limits;
    let mut buf = Vec::with_capacity(128);
    let mut line = 0u64;
    let mut delimiter_byte = b',';
    let mut first_record = true;
    let where_ = |reason: String| match file {
        Some(name) => format!("{name}: {reason}"),
        None => reason,
    };
    loop {
        buf.clear();
        // The line end and a CR may follow the longest line allowed.
        let most = u64::try_from(limits.max_line_bytes).unwrap_or(u64::MAX) + 2;
        let read = (&mut reader)
            .take(most)
            .read_until(b'\n', &mut buf)
            .map_err(|e| FileError(format!("cannot be read: {e}")))?;
        if read == 0 {
            return Ok(false);
        }
        budget.bytes += u64::try_from(read).unwrap_or(u64::MAX);
        if budget.bytes > limits.max_unpacked_bytes {
            return Err(FileError(format!(
                "unpacks to more than {} bytes, the limit of an unpacked file",
                limits.max_unpacked_bytes
            )));
        }
        line += 1;
        budget.lines += 1;
        if budget.lines > limits.max_lines {
            return Err(FileError(format!(
                "has more than {} lines, the limit of lines in a file",
                limits.max_lines
            )));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if buf.len() > limits.max_line_bytes {
            // No line end within reach: the line goes on.
            buf.truncate(limits.max_line_bytes + 1);
        }
        if buf.len() > limits.max_line_bytes {
            return Err(FileError(format!(
                "line {line}: longer than {} bytes, the limit of a line",
                limits.max_line_bytes
            )));
        }
        if line == 1 {
            delimiter_byte = delimiter(&buf);
        }
        let Some(sink) = sink.as_mut() else {
            continue;
        };
        if buf.is_empty() || buf[0] == b'#' {
            continue;
        }
        let fields = match split_fields(&buf, delimiter_byte) {
            Ok(fields) => fields,
            Err(reason) => {
                first_record = false;
                let bad = SourceLine {
                    line,
                    content: String::new(),
                    parse: LineParse::Bad {
                        domain: None,
                        reason: where_(reason),
                    },
                };
                if !sink(bad) {
                    return Ok(true);
                }
                continue;
            }
        };
        // An optional header line names the columns.
        let header = first_record
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case(b"domain"));
        first_record = false;
        if header {
            continue;
        }
        let content: String = fields
            .iter()
            .map(|f| String::from_utf8_lossy(f))
            .collect::<Vec<_>>()
            .join(&char::from(delimiter_byte).to_string())
            .chars()
            .take(MAX_CONTENT_CHARS)
            .collect();
        let parse = match parse_fields(&fields).map_err(where_) {
            Ok(entry) => entry,
            Err(reason) => LineParse::Bad {
                domain: fields
                    .first()
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .map(str::to_string),
                reason,
            },
        };
        if !sink(SourceLine {
            line,
            content,
            parse,
        }) {
            return Ok(true);
        }
    }
}

/// The fields of one line, each trimmed: a plain split when the line has no quotes, else
/// the CSV reader (quoted fields, doubled quotes).
fn split_fields(line: &[u8], delimiter: u8) -> Result<Vec<Vec<u8>>, String> {
    if !line.contains(&b'"') {
        return Ok(line
            .split(|b| *b == delimiter)
            .map(|f| f.trim_ascii().to_vec())
            .collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .buffer_capacity(line.len().max(64))
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(_) => Ok(record.iter().map(<[u8]>::to_vec).collect()),
        Err(error) => Err(format!("malformed CSV: {error}")),
    }
}

fn parse_fields(fields: &[Vec<u8>]) -> Result<LineParse, String> {
    if fields.len() != 2 {
        return Err(format!(
            "malformed line: expected 2 fields (domain and drop date), found {}",
            fields.len()
        ));
    }
    let text = |i: usize, field: &str| {
        std::str::from_utf8(&fields[i]).map_err(|_| format!("{field}: is not valid UTF-8"))
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
            format!(
                "drop date: {} is not a date `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339",
                crate::domain::quote(text)
            )
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
    fn limits_are_checked_while_reading() {
        let small = Limits {
            max_file_bytes: 1000,
            max_unpacked_bytes: 100,
            max_line_bytes: 30,
            max_lines: 3,
        };
        let ok = b"a.com;2026-03-02 19:00:00\n\n# c\n";
        assert_eq!(check_file(ok, None, &small).unwrap(), 3);
        let too_many = b"a.com;2026-03-02 19:00:00\n\n\n\n";
        assert!(
            check_file(too_many, None, &small)
                .unwrap_err()
                .0
                .contains("lines")
        );
        let too_long = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com;2026-03-02 19:00:00\n";
        let error = check_file(too_long, None, &small).unwrap_err().0;
        assert!(error.starts_with("line 1: longer than 30 bytes"), "{error}");
        let big = vec![b'\n'; 2000];
        assert!(
            check_file(&big, None, &small)
                .unwrap_err()
                .0
                .contains("limit")
        );
        let crlf = b"a.com;2026-03-02 19:00:00\r\n";
        assert_eq!(read_file(crlf, None).unwrap().len(), 1);
    }

    #[test]
    fn quoted_fields_are_read_as_csv() {
        let lines = read_file(b"\"a.com\";\"2026-03-02 19:00:00\"\n", None).unwrap();
        assert!(matches!(&lines[0].parse, LineParse::Entry { domain, .. } if domain == "a.com"));
    }

    #[test]
    fn a_broken_zip_fails_the_file() {
        let error = read_file(b"PK\x03\x04garbage", None).unwrap_err();
        assert!(error.to_string().starts_with("content: not a readable zip"));
    }
}
