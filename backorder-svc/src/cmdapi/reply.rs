//! The command API's answer: a result code, its standard text with a detail, and properties,
//! rendered as HEXONET's plain-text `[RESPONSE]` block.

use crate::domain::truncate;
use chrono::{DateTime, Utc};

/// The result codes this API answers with (spec/hexonet-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Success,
    TemporaryError,
    InvalidCommand,
    MissingAttribute,
    InvalidSyntax,
    AuthenticationFailed,
    AuthorizationFailed,
    NotUnique,
    InvalidValue,
    NotFound,
    FundsShort,
    CommandFailed,
    StatusForbids,
}

impl Code {
    pub fn number(self) -> u16 {
        match self {
            Self::Success => 200,
            Self::TemporaryError => 421,
            Self::InvalidCommand => 500,
            Self::MissingAttribute => 504,
            Self::InvalidSyntax => 505,
            Self::AuthenticationFailed => 530,
            Self::AuthorizationFailed => 531,
            Self::NotUnique => 540,
            Self::InvalidValue => 541,
            Self::NotFound => 545,
            Self::FundsShort => 546,
            Self::CommandFailed => 549,
            Self::StatusForbids => 552,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Success => "Command completed successfully",
            Self::TemporaryError => "Command failed due to server error. Client should try again",
            Self::InvalidCommand => "Invalid command name",
            Self::MissingAttribute => "Missing required attribute",
            Self::InvalidSyntax => "Invalid attribute value syntax",
            Self::AuthenticationFailed => "Authentication failed",
            Self::AuthorizationFailed => "Authorization failed",
            Self::NotUnique => "Attribute value is not unique",
            Self::InvalidValue => "Invalid attribute value",
            Self::NotFound => "Object not found",
            Self::FundsShort => "Credit limit exceeded",
            Self::CommandFailed => "Command failed",
            Self::StatusForbids => "Object status does not allow for operation",
        }
    }
}

/// Longest detail after the standard text: one short line, whatever the input quoted.
const MAX_DETAIL_BYTES: usize = 256;

/// One answer. Properties keep the order they were added in; each value list is emitted
/// from index 0 (clients append values in the order they read them).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    code: Code,
    detail: Option<String>,
    properties: Vec<(String, Vec<String>)>,
}

impl Reply {
    pub fn success() -> Self {
        Self {
            code: Code::Success,
            detail: None,
            properties: Vec::new(),
        }
    }

    pub fn error(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(truncate(&detail.into(), MAX_DETAIL_BYTES)),
            properties: Vec::new(),
        }
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn description(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}; {detail}", self.code.text()),
            None => self.code.text().to_string(),
        }
    }

    /// Appends a value to the property `name` (upper case on the wire).
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let name = name.to_ascii_uppercase();
        let value = one_line(value.into());
        match self.properties.iter_mut().find(|(key, _)| *key == name) {
            Some((_, values)) => values.push(value),
            None => self.properties.push((name, vec![value])),
        }
        self
    }

    /// Sets a property to exactly one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let name = name.to_ascii_uppercase();
        self.properties.retain(|(key, _)| *key != name);
        self.push(&name, value)
    }

    /// Values of a property (tests and the bench read answers through this).
    pub fn values(&self, name: &str) -> &[String] {
        self.properties
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, values)| values.as_slice())
            .unwrap_or(&[])
    }

    /// The plain-text body. `runtime` is the seconds the command took.
    pub fn render(&self, runtime_seconds: f64) -> String {
        let mut out = String::with_capacity(128 + self.properties.len() * 48);
        out.push_str("[RESPONSE]\n");
        out.push_str(&format!("code = {}\n", self.code.number()));
        out.push_str(&format!("description = {}\n", one_line(self.description())));
        out.push_str("queuetime = 0\n");
        out.push_str(&format!("runtime = {runtime_seconds:.3}\n"));
        for (name, values) in &self.properties {
            for (index, value) in values.iter().enumerate() {
                out.push_str(&format!("property[{name}][{index}] = {value}\n"));
            }
        }
        out.push_str("EOF\n");
        out
    }
}

/// A value on one line: line breaks would end the property early on the client's side.
fn one_line(value: String) -> String {
    if value.contains(['\r', '\n']) {
        value.replace(['\r', '\n'], " ")
    } else {
        value
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, this API's date format.
pub fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The date clients read as "not set yet".
pub const NO_DATE: &str = "0001-01-01 00:00:00";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_block() {
        let mut reply = Reply::success();
        reply
            .push("application", "10700")
            .push("STATUS", "REQUESTED");
        reply.push("application", "10701");
        let text = reply.render(0.004);
        assert_eq!(
            text,
            "[RESPONSE]\ncode = 200\ndescription = Command completed successfully\n\
             queuetime = 0\nruntime = 0.004\nproperty[APPLICATION][0] = 10700\n\
             property[APPLICATION][1] = 10701\nproperty[STATUS][0] = REQUESTED\nEOF\n"
        );
    }

    #[test]
    fn errors_carry_standard_text_and_a_short_detail() {
        let reply = Reply::error(Code::MissingAttribute, "DOMAIN");
        assert_eq!(reply.description(), "Missing required attribute; DOMAIN");
        let long = Reply::error(Code::InvalidValue, "x\n".repeat(10_000));
        let text = long.render(0.0);
        assert!(text.len() < 500, "{}", text.len());
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("description"))
                .count(),
            1
        );
    }

    #[test]
    fn dates() {
        let at = DateTime::from_timestamp(1_598_634_000, 0).unwrap();
        assert_eq!(date(at), "2020-08-28 17:00:00");
    }
}
