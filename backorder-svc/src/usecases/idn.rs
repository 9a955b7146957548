//! Converting domain names between their ASCII (A-label, "ACE") and Unicode forms.

use super::{UseCaseError, UseCaseResult, UseCases};
use crate::domain::account::Caller;
use crate::domain::name::DomainName;

/// One name in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub ace: String,
    pub idn: String,
}

impl UseCases {
    /// Each name in both forms, in the order given; the first name that is not a domain
    /// name is refused naming its position (`domains[i]`).
    pub fn convert_idn(
        &self,
        _caller: &Caller,
        domains: &[String],
    ) -> UseCaseResult<Vec<Conversion>> {
        domains
            .iter()
            .enumerate()
            .map(|(i, domain)| {
                let name = DomainName::parse(domain).map_err(|e| {
                    UseCaseError::invalid(
                        &format!("domains[{i}]"),
                        format!("{}: {e}", crate::domain::quote(domain)),
                    )
                })?;
                Ok(Conversion {
                    ace: name.ascii().to_string(),
                    idn: name.unicode().to_string(),
                })
            })
            .collect()
    }
}
