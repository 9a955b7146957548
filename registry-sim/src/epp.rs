//! EPP result codes (RFC 5730) the simulator answers with.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Ok = 1000,
    SyntaxError = 2005,
    AuthorizationError = 2201,
    ObjectExists = 2302,
    ObjectDoesNotExist = 2303,
    ParameterPolicyError = 2306,
    SessionLimitExceeded = 2502,
}

/// A registrar command's outcome: a code and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub code: Code,
    pub message: String,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome {
            code: Code::Ok,
            message: "Command completed successfully".into(),
        }
    }

    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Outcome {
            code,
            message: message.into(),
        }
    }

    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code as i32, self.message)
    }
}
