//! A registrar accreditation the catcher creates with, as configured:
//! `ID:PASSWORD[:SESSIONS[:CREATES_PER_SECOND]]` (sessions default 1, creates per second per
//! session default 1). Ids and passwords cannot contain `:` (nor `,` in the environment
//! variable, which lists several).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Accreditation {
    pub registrar: String,
    pub password: String,
    pub sessions: u32,
    pub creates_per_second: u32,
}

impl Accreditation {
    /// Parses one `ID:PASSWORD[:SESSIONS[:CREATES_PER_SECOND]]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let count =
            |i: usize, what: &str| -> Result<u32, String> {
                match parts.get(i) {
                    None => Ok(1),
                    Some(n) => n.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("{what}: `{n}` is not a whole number of at least 1")
                    }),
                }
            };
        if !(2..=4).contains(&parts.len()) || parts[0].is_empty() || parts[1].is_empty() {
            return Err("expected ID:PASSWORD[:SESSIONS[:CREATES_PER_SECOND]]".into());
        }
        Ok(Self {
            registrar: parts[0].to_string(),
            password: parts[1].to_string(),
            sessions: count(2, "sessions")?,
            creates_per_second: count(3, "creates per second")?,
        })
    }
}

/// The password stays out of logs.
impl fmt::Debug for Accreditation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accreditation")
            .field("registrar", &self.registrar)
            .field("password", &"***")
            .field("sessions", &self.sessions)
            .field("creates_per_second", &self.creates_per_second)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_form() {
        let short = Accreditation::parse("ours-1:secret").unwrap();
        assert_eq!((short.sessions, short.creates_per_second), (1, 1));
        let full = Accreditation::parse(" ours-2:pw:3:5 ").unwrap();
        assert_eq!(
            (full.registrar.as_str(), full.password.as_str()),
            ("ours-2", "pw")
        );
        assert_eq!((full.sessions, full.creates_per_second), (3, 5));
        assert!(!format!("{full:?}").contains("pw\""));
    }

    #[test]
    fn refusals() {
        assert!(Accreditation::parse("only-id").is_err());
        assert!(Accreditation::parse(":pw").is_err());
        assert!(
            Accreditation::parse("id:pw:0")
                .unwrap_err()
                .starts_with("sessions")
        );
        assert!(
            Accreditation::parse("id:pw:1:x")
                .unwrap_err()
                .starts_with("creates per second")
        );
        assert!(Accreditation::parse("id:pw:1:1:1").is_err());
    }
}
