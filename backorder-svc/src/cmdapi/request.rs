//! Reading one command-API request: credentials and command from the query string and the
//! form body, as plain fields or as `s_command` lines, keys in any case.

use super::reply::{Code, Reply};
use crate::domain::quote;
use std::collections::BTreeMap;

/// Parameters one command may carry (contacts flattened, lists of 1000 domains).
pub const MAX_PARAMETERS: usize = 2000;
/// Longest parameter name.
pub const MAX_KEY_CHARS: usize = 64;
/// Longest parameter value (a contact block, a long regular expression).
pub const MAX_VALUE_CHARS: usize = 4096;

/// Which of the two separate environments a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `s_entity=54cd`.
    Live,
    /// `s_entity=1234` (HEXONET's OT&E), or the `/ote/` path.
    Test,
}

impl Environment {
    pub const LIVE_ENTITY: &'static str = "54cd";
    pub const TEST_ENTITY: &'static str = "1234";

    pub fn entity(self) -> &'static str {
        match self {
            Self::Live => Self::LIVE_ENTITY,
            Self::Test => Self::TEST_ENTITY,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

/// What the caller says about who they are. The password is kept out of `Debug`.
#[derive(Default, Clone)]
pub struct Credentials {
    pub entity: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    pub session: Option<String>,
    /// `s_user` or CentralNic Reseller's `SUBUSER`: act for a sub-user.
    pub user: Option<String>,
    pub otp: Option<String>,
    /// CentralNic Reseller: a login request with `persistent=1` and no command opens a session.
    pub persistent: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("entity", &self.entity)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("session", &self.session.as_ref().map(|_| "***"))
            .field("user", &self.user)
            .field("persistent", &self.persistent)
            .finish()
    }
}

/// One parsed request: credentials, the command's name (`None` for a bare CentralNic login)
/// and its parameters with upper-case keys.
#[derive(Debug, Clone, Default)]
pub struct CommandRequest {
    pub credentials: Credentials,
    pub command: Option<String>,
    pub params: BTreeMap<String, String>,
}

/// Reads a request from its query string and its form body (either may be empty). A key
/// given twice with different values is refused rather than guessed at.
pub fn parse(query: &[u8], body: &[u8]) -> Result<CommandRequest, Reply> {
    let mut fields = Fields::default();
    for source in [query, body] {
        for (key, value) in form_urlencoded::parse(source) {
            if key.eq_ignore_ascii_case("s_command") {
                for line in value.split('\n') {
                    let line = line.trim_end_matches('\r');
                    if line.trim().is_empty() {
                        continue;
                    }
                    let Some((key, value)) = line.split_once('=') else {
                        return Err(Reply::error(
                            Code::InvalidSyntax,
                            format!(
                                "s_command: each line must read KEY=value, got {}",
                                quote(line)
                            ),
                        ));
                    };
                    fields.add(key.trim(), value.trim())?;
                }
            } else {
                fields.add(key.trim(), value.trim())?;
            }
        }
    }
    Ok(fields.into_request())
}

#[derive(Default)]
struct Fields {
    all: BTreeMap<String, String>,
}

impl Fields {
    fn add(&mut self, key: &str, value: &str) -> Result<(), Reply> {
        if key.is_empty() {
            return Err(Reply::error(
                Code::InvalidSyntax,
                "a parameter has an empty name",
            ));
        }
        if key.chars().count() > MAX_KEY_CHARS
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!(
                    "parameter names are at most {MAX_KEY_CHARS} letters, digits, '_', '-' or \
                     '.', got {}",
                    quote(key)
                ),
            ));
        }
        let key = key.to_ascii_uppercase();
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!("{key}: at most {MAX_VALUE_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Reply::error(
                Code::InvalidSyntax,
                format!("{key}: control characters are not allowed"),
            ));
        }
        match self.all.get(&key) {
            Some(existing) if existing != value => Err(Reply::error(
                Code::InvalidSyntax,
                format!("{key}: given twice with different values"),
            )),
            Some(_) => Ok(()),
            None if self.all.len() >= MAX_PARAMETERS => Err(Reply::error(
                Code::InvalidSyntax,
                format!("at most {MAX_PARAMETERS} parameters in one request"),
            )),
            None => {
                self.all.insert(key, value.to_string());
                Ok(())
            }
        }
    }

    fn into_request(mut self) -> CommandRequest {
        let mut take = |key: &str| self.all.remove(key).filter(|v| !v.is_empty());
        let credentials = Credentials {
            entity: take("S_ENTITY"),
            login: take("S_LOGIN"),
            password: take("S_PW"),
            session: take("S_SESSION").or_else(|| take("S_SESSIONID")),
            user: take("S_USER").or_else(|| take("SUBUSER")),
            otp: take("S_OTP"),
            persistent: take("PERSISTENT").is_some_and(|v| v == "1"),
        };
        let command = take("COMMAND");
        // Accepted and not used: the client's address as its proxy saw it.
        take("S_REMOTEADDR");
        CommandRequest {
            credentials,
            command,
            params: self.all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_start_form_and_query_string_mix() {
        let request = parse(
            b"s_entity=54cd&s_login=john&s_pw=secret%20pw",
            b"command=AddDomainApplication&class=BACKORDER&domain=john.com",
        )
        .unwrap();
        assert_eq!(request.command.as_deref(), Some("AddDomainApplication"));
        assert_eq!(request.credentials.entity.as_deref(), Some("54cd"));
        assert_eq!(request.credentials.password.as_deref(), Some("secret pw"));
        assert_eq!(request.params["CLASS"], "BACKORDER");
        assert_eq!(request.params["DOMAIN"], "john.com");
        assert!(!format!("{:?}", request.credentials).contains("secret"));
    }

    #[test]
    fn sdk_s_command_lines() {
        let body = "s_entity=1234&s_login=john%21ro&s_pw=pw&s_command=COMMAND%3DStatusDomainApplication%0AAPPLICATION%3D10700";
        let request = parse(b"", body.as_bytes()).unwrap();
        assert_eq!(request.command.as_deref(), Some("StatusDomainApplication"));
        assert_eq!(request.credentials.login.as_deref(), Some("john!ro"));
        assert_eq!(request.params["APPLICATION"], "10700");
    }

    #[test]
    fn keys_are_case_insensitive_and_spaces_around_equals_are_dropped() {
        let body =
            "S_LOGIN=a&s_command=command+%3D+QueryDomainPendingDeleteList%0Azone0+%3D+com%0D%0A";
        let request = parse(b"", body.as_bytes()).unwrap();
        assert_eq!(request.credentials.login.as_deref(), Some("a"));
        assert_eq!(
            request.command.as_deref(),
            Some("QueryDomainPendingDeleteList")
        );
        assert_eq!(request.params["ZONE0"], "com");
    }

    #[test]
    fn centralnic_dialect() {
        let request = parse(b"s_login=a&s_pw=b&persistent=1&SUBUSER=sub", b"").unwrap();
        assert!(request.credentials.persistent);
        assert_eq!(request.credentials.user.as_deref(), Some("sub"));
        assert_eq!(request.command, None);
    }

    #[test]
    fn conflicts_and_bad_lines_are_refused() {
        let conflict = parse(b"domain=a.com", b"domain=b.com").unwrap_err();
        assert_eq!(conflict.code(), Code::InvalidSyntax);
        assert!(conflict.description().contains("DOMAIN: given twice"));
        parse(b"domain=a.com", b"DOMAIN=a.com").unwrap();
        let line = parse(b"", b"s_command=COMMAND%3DX%0Ano-equals-sign").unwrap_err();
        assert!(line.description().contains("KEY=value"));
        let control = parse(b"", b"domain=a%00b").unwrap_err();
        assert!(control.description().contains("DOMAIN: control"));
        let long = format!("domain={}", "a".repeat(MAX_VALUE_CHARS + 1));
        assert!(
            parse(b"", long.as_bytes())
                .unwrap_err()
                .description()
                .contains("at most")
        );
        let name = format!("{}=1", "k".repeat(1000));
        let refused = parse(b"", name.as_bytes()).unwrap_err();
        assert!(refused.description().len() < 300);
    }
}
