//! The one place where use-case errors become command-API result codes.

use super::reply::{Code, Reply};
use crate::auth::AuthError;
use crate::usecases::UseCaseError;

/// A refused login or session: 530 (an unknown session says so, as HEXONET's clients expect).
pub fn auth_reply(error: AuthError) -> Reply {
    match error {
        AuthError::SessionNotFound => Reply::error(Code::AuthenticationFailed, "SESSION NOT FOUND"),
        AuthError::Store(store) => use_case_reply(store.into()),
        _ => Reply::error(Code::AuthenticationFailed, "wrong login or password"),
    }
}

/// A use case's refusal as its HEXONET code. Another account's application is 531 with a
/// text that says nothing about it (not even whether it exists).
pub fn use_case_reply(error: UseCaseError) -> Reply {
    match error {
        UseCaseError::Invalid { field, rule } => {
            Reply::error(Code::InvalidValue, format!("{}: {rule}", wire_name(&field)))
        }
        UseCaseError::NotFound(message) => Reply::error(Code::NotFound, message),
        UseCaseError::NotYours(_) => Reply::error(
            Code::AuthorizationFailed,
            "the object is not one of this account's",
        ),
        UseCaseError::AlreadyExists { field, rule } => {
            Reply::error(Code::NotUnique, format!("{}: {rule}", wire_name(&field)))
        }
        UseCaseError::WrongStatus(message) => Reply::error(Code::StatusForbids, message),
        UseCaseError::FundsShort(message) => Reply::error(Code::FundsShort, message),
        UseCaseError::Refused(message) => Reply::error(Code::CommandFailed, message),
        UseCaseError::PermissionDenied(message) => Reply::error(Code::AuthorizationFailed, message),
        UseCaseError::Unavailable(message) => Reply::error(Code::TemporaryError, message),
        UseCaseError::Internal(message) => Reply::error(Code::TemporaryError, message),
    }
}

/// A use case's field name as this API calls it (`auth_code_wish` is `AUTH`, a contact
/// `OWNERCONTACT0`, an extension keeps its own name).
fn wire_name(field: &str) -> String {
    let name = match field {
        "auth_code_wish" => "AUTH",
        "contacts.owner" => "OWNERCONTACT0",
        "contacts.admin" => "ADMINCONTACT0",
        "contacts.tech" => "TECHCONTACT0",
        "contacts.billing" => "BILLINGCONTACT0",
        "backorder_id" => "APPLICATION",
        other => other,
    };
    let name = name
        .strip_prefix("extensions[")
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(name);
    name.trim_matches('"').to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_the_spec() {
        let cases = [
            (UseCaseError::invalid("domain", "TLD not offered"), 541),
            (UseCaseError::NotFound("backorder 9 not found".into()), 545),
            (UseCaseError::NotYours("backorder 9 not found".into()), 531),
            (UseCaseError::WrongStatus("closed".into()), 552),
            (UseCaseError::FundsShort("short".into()), 546),
            (UseCaseError::Unavailable("busy".into()), 421),
        ];
        for (error, code) in cases {
            assert_eq!(use_case_reply(error).code().number(), code);
        }
        let not_yours = use_case_reply(UseCaseError::NotYours("backorder 9 not found".into()));
        assert!(!not_yours.description().contains('9'));
        let field = use_case_reply(UseCaseError::invalid("auth_code_wish", "too long"));
        assert_eq!(
            field.description(),
            "Invalid attribute value; AUTH: too long"
        );
    }
}
