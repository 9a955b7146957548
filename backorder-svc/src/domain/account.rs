//! Client accounts and the callers that act on them.

use super::money::Currency;
use std::fmt;

/// A client account's id (a positive integer, shown as a decimal string at the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl AccountId {
    /// Accepts "42" and the resource name "accounts/42".
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.trim().strip_prefix("accounts/").unwrap_or(text.trim());
        match digits.parse::<i64>() {
            Ok(id) if id > 0 && !digits.starts_with('+') => Some(Self(id)),
            _ => None,
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    Suspended,
    Closed,
}

impl AccountState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// A price tier name: 1 to 32 characters of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PriceTier(String);

impl PriceTier {
    pub const DEFAULT: &'static str = "default";

    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        ok.then(|| Self(text.to_string()))
    }

    /// A new tier name (the API's rule): a lower-case letter, then up to 31 of a-z, 0-9, `_`
    /// and `-` (`default`, `gold`, `reseller-2`). No blanks, no leading digit or sign (`-1`).
    pub fn validate(text: &str) -> Option<Self> {
        let starts_with_letter = text.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if starts_with_letter {
            Self::parse(text)
        } else {
            None
        }
    }

    pub fn default_tier() -> Self {
        Self(Self::DEFAULT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub display_name: String,
    pub currency: Currency,
    pub price_tier: PriceTier,
    pub state: AccountState,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Who is calling: resolved from the API key (gRPC) or the login or session (command API) on
/// every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator {
        key_id: i64,
    },
    /// The operator at the service's command line (`backorder-svc login ...`,
    /// `backorder-svc test-account open`): whoever may run the binary against the database.
    Shell,
    Account {
        account_id: AccountId,
        credential: Credential,
        access: Access,
    },
}

/// What an account caller proved: which key, or which login (`user` or `user!role`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    ApiKey(i64),
    Login(String),
}

/// What an account caller may do. Role logins (`user!role`) may be restricted to reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Full,
    ReadOnly,
}

impl Caller {
    /// An account caller with an API key: full access.
    pub fn account_key(key_id: i64, account_id: AccountId) -> Self {
        Self::Account {
            account_id,
            credential: Credential::ApiKey(key_id),
            access: Access::Full,
        }
    }

    /// The audit-log actor: which key or login did it.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { key_id } => format!("operator_key:{key_id}"),
            Self::Shell => "cli".to_string(),
            Self::Account {
                credential: Credential::ApiKey(key_id),
                ..
            } => format!("api_key:{key_id}"),
            Self::Account {
                credential: Credential::Login(login),
                ..
            } => format!("login:{login}"),
        }
    }

    /// Whether the caller may change anything (place, cancel, pay, bid, move money).
    pub fn may_write(&self) -> bool {
        match self {
            Self::Operator { .. } | Self::Shell => true,
            Self::Account { access, .. } => *access == Access::Full,
        }
    }

    /// The namespace of the caller's idempotency keys: two callers never collide.
    pub fn idempotency_scope(&self) -> String {
        match self {
            Self::Operator { .. } | Self::Shell => "operator".to_string(),
            Self::Account { account_id, .. } => format!("account:{account_id}"),
        }
    }

    /// The login's user name without its role (`john` for `john!ro`), for login callers.
    pub fn login_user(&self) -> Option<&str> {
        match self {
            Self::Account {
                credential: Credential::Login(login),
                ..
            } => login.split('!').next(),
            _ => None,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Self::Operator { .. } | Self::Shell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_accept_plain_and_resource_names() {
        assert_eq!(AccountId::parse("42"), Some(AccountId(42)));
        assert_eq!(AccountId::parse("accounts/7"), Some(AccountId(7)));
        for bad in ["", "0", "-1", "+3", "x", "accounts/", "1.5"] {
            assert_eq!(AccountId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn price_tiers_are_short_slugs() {
        assert!(PriceTier::parse("gold-2").is_some());
        assert!(PriceTier::parse("").is_none());
        assert!(PriceTier::parse("Gold").is_none());
        assert!(PriceTier::parse(&"a".repeat(33)).is_none());
    }
}
