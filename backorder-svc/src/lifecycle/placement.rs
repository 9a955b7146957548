//! Validating an order before it is placed (spec/lifecycle.md, "Placing an order"): each
//! refusal names its field and rule.

use crate::domain::account::{Account, AccountState};
use crate::domain::catalog::{BackorderClass, Tld, TldName};
use crate::domain::lifecycle::{Schedule, in_daily_deal_window};
use crate::domain::name::DomainName;
use crate::store::orders::{Contacts, NewBackorder};
use crate::store::{PageRequest, PriceFilter, PriceKey, SharedStore, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// An order as the client asks for it.
#[derive(Debug, Clone, Default)]
pub struct OrderRequest {
    pub domain: String,
    pub class: Option<BackorderClass>,
    pub contacts: Contacts,
    pub auth_code_wish: String,
    pub extensions: BTreeMap<String, String>,
    pub client_reference: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("{field}: {rule}")]
    Invalid { field: &'static str, rule: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, rule: impl Into<String>) -> PlacementError {
    PlacementError::Invalid {
        field,
        rule: rule.into(),
    }
}

/// The catalog entry an order is placed under: the public suffix itself ("co.uk"), or its
/// top-level domain when that allows third-level orders ("name.com.co" under "co").
async fn catalog_entry(store: &SharedStore, name: &DomainName) -> Result<Tld, PlacementError> {
    let suffix =
        TldName::parse(name.suffix()).ok_or_else(|| invalid("domain", "has no usable suffix"))?;
    if let Some(tld) = store.get_tld(&suffix).await? {
        return Ok(tld);
    }
    let top = TldName::parse(name.tld()).ok_or_else(|| invalid("domain", "has no usable TLD"))?;
    match store.get_tld(&top).await? {
        Some(tld) if tld.third_level_allowed => Ok(tld),
        Some(tld) => Err(invalid(
            "domain",
            format!(
                "third-level orders ({}) are not allowed for .{}",
                name.ascii(),
                tld.name.as_str()
            ),
        )),
        None => Err(invalid(
            "domain",
            format!("not supported: .{} is not in the catalog", name.suffix()),
        )),
    }
}

/// Extension entries on one order, and the longest key and value: registry extensions are
/// a handful of short fields (HEXONET's nexus fields, a UK registrant type).
pub const MAX_EXTENSIONS: usize = 32;
pub const MAX_EXTENSION_KEY: usize = 64;
pub const MAX_EXTENSION_VALUE: usize = 256;

/// Required extension fields: an exact name, or a prefix ending in `*`.
fn missing_extensions(tld: &Tld, given: &BTreeMap<String, String>) -> Vec<String> {
    tld.required_extensions
        .iter()
        .filter(|required| match required.strip_suffix('*') {
            Some(prefix) => !given.keys().any(|k| k.starts_with(prefix)),
            None => !given.contains_key(required.as_str()),
        })
        .cloned()
        .collect()
}

/// Example values of the extension fields a registry is known to take (HEXONET's names; the
/// simulator's catcher maps `X-UK-CONTACT-TYPE` to `uk-contact-type`): a client told that
/// `X-UK-*` is missing learns a field it can actually send.
const EXTENSION_EXAMPLES: [(&str, &str); 3] = [
    ("X-UK-CONTACT-TYPE", "IND"),
    ("X-US-NEXUS-APPPURPOSE", "P1"),
    ("X-US-NEXUS-CATEGORY", "C11"),
];

/// Missing extension fields as a client reads them: a prefix (`X-UK-*`) becomes "a field
/// starting with X-UK-", an example named when one is known. The first three, then a count,
/// so the rule stays within an error message's length.
fn describe_missing(missing: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = missing
        .iter()
        .take(SHOWN)
        .map(|required| match required.strip_suffix('*') {
            Some(prefix) => {
                match EXTENSION_EXAMPLES
                    .iter()
                    .find(|(k, _)| k.starts_with(prefix))
                {
                    Some((key, value)) => {
                        format!("a field starting with {prefix}, such as {key}={value}")
                    }
                    None => format!("a field starting with {prefix} (any name after it)"),
                }
            }
            None => match EXTENSION_EXAMPLES.iter().find(|(k, _)| k == required) {
                Some((key, value)) => format!("{required} (such as {key}={value})"),
                None => required.clone(),
            },
        })
        .collect();
    if missing.len() > SHOWN {
        parts.push(format!("and {} more", missing.len() - SHOWN));
    }
    parts.join("; ")
}

/// The refusal of an order for which the catalog has no price: which tier, TLD, class and
/// currency lack one, and the two ways out (an operator sets the price, or the order comes
/// from an account in a currency that has one). The field is `domain` (the name's TLD is not
/// supported for this account: INVALID_ARGUMENT, HEXONET 541 "TLD not supported"), not
/// `class`, which the client chose correctly.
async fn missing_price(
    store: &SharedStore,
    key: &PriceKey,
) -> Result<PlacementError, PlacementError> {
    let priced = store
        .list_prices(
            PriceFilter {
                tier: Some(key.tier.as_str().to_string()),
                tld: Some(key.tld.as_str().to_string()),
                currency: None,
            },
            PageRequest {
                after: None,
                limit: 50,
            },
        )
        .await?;
    let mut currencies: Vec<String> = priced
        .iter()
        .filter(|p| p.key.class == key.class)
        .map(|p| p.key.currency.to_string())
        .collect();
    currencies.dedup();
    let other = if currencies.is_empty() {
        "no currency has one yet".to_string()
    } else {
        format!("or use an account in {}", currencies.join(", "))
    };
    Ok(invalid(
        "domain",
        format!(
            "not supported: no {} price for .{} in {} for price tier `{}`; an operator adds one \
             (CatalogService/SetPrice), {other}",
            key.class.as_str(),
            key.tld.as_str(),
            key.currency,
            key.tier.as_str(),
        ),
    ))
}

/// Validates a request into an order to place, or says precisely why not.
pub async fn validate(
    store: &SharedStore,
    account: &Account,
    request: OrderRequest,
    now: DateTime<Utc>,
) -> Result<NewBackorder, PlacementError> {
    match account.state {
        AccountState::Active => {}
        AccountState::Suspended => {
            return Err(PlacementError::Refused(format!(
                "account {} is suspended: no new orders",
                account.id
            )));
        }
        AccountState::Closed => {
            return Err(PlacementError::Refused(format!(
                "account {} is closed",
                account.id
            )));
        }
    }
    let class = request
        .class
        .ok_or_else(|| invalid("class", "must be BACKORDER or LITEBACKORDER"))?;
    let name = DomainName::parse(&request.domain).map_err(|e| invalid("domain", e.to_string()))?;
    let tld = catalog_entry(store, &name).await?;
    if !tld.classes.contains(&class) {
        return Err(invalid(
            "class",
            format!(
                "{} is not supported for .{}",
                class.as_str(),
                tld.name.as_str()
            ),
        ));
    }
    let key = PriceKey {
        tier: account.price_tier.clone(),
        tld: tld.name.clone(),
        class,
        currency: account.currency,
    };
    let price = match store.get_price(&key).await? {
        Some(price) => price,
        None => return Err(missing_price(store, &key).await?),
    };
    if request.extensions.len() > MAX_EXTENSIONS {
        return Err(invalid(
            "extensions",
            format!(
                "at most {MAX_EXTENSIONS} entries, got {}",
                request.extensions.len()
            ),
        ));
    }
    let mut extensions = BTreeMap::new();
    for (key, value) in request.extensions {
        let key = key.trim().to_ascii_uppercase();
        if !key.starts_with("X-")
            || key.len() < 3
            || key.len() > MAX_EXTENSION_KEY
            || key.contains(['=', '\n'])
            || value.contains('\n')
            || value.chars().count() > MAX_EXTENSION_VALUE
        {
            return Err(invalid(
                "extensions",
                format!(
                    "{}: keys are registry extension names like \"X-US-NEXUS-CATEGORY\" (at most \
                     {MAX_EXTENSION_KEY} characters); values are one line of at most \
                     {MAX_EXTENSION_VALUE} characters",
                    crate::domain::quote(&key)
                ),
            ));
        }
        extensions.insert(key, value.trim().to_string());
    }
    let missing = missing_extensions(&tld, &extensions);
    if !missing.is_empty() {
        return Err(invalid(
            "extensions",
            format!(
                ".{} needs registry extension fields: {}",
                tld.name.as_str(),
                describe_missing(&missing)
            ),
        ));
    }
    let schedule = store
        .domain_schedule(name.ascii(), tld.name.as_str())
        .await?;
    if schedule == Schedule::OutOfRange {
        // Only rows stored before the catalog bounded leads (or the import bounded drop
        // times) can get here.
        return Err(PlacementError::Refused(format!(
            "domain: the times of {} cannot be computed: the .{} leads in the catalog (0 to \
             365 days each) or its drop time (years 0000 to 9999) are out of range; orders \
             for it are closed until an operator corrects them",
            name.ascii(),
            tld.name.as_str()
        )));
    }
    let mut post_drop = false;
    if let Schedule::Listed(times) = schedule
        && now >= times.finalization_at
    {
        let daily_deal = class == BackorderClass::LiteBackorder
            && tld.daily_deals
            && in_daily_deal_window(now)
            && store.count_valid_orders(name.ascii()).await? == 0;
        if !daily_deal {
            return Err(PlacementError::Refused(format!(
                "domain: finalization for {} passed at {}; orders are closed",
                name.ascii(),
                times.finalization_at.to_rfc3339()
            )));
        }
        post_drop = true;
    }
    for (field, text) in [
        ("contacts.owner", &request.contacts.owner),
        ("contacts.admin", &request.contacts.admin),
        ("contacts.tech", &request.contacts.tech),
        ("contacts.billing", &request.contacts.billing),
        ("auth_code_wish", &request.auth_code_wish),
        ("client_reference", &request.client_reference),
    ] {
        if text.chars().count() > 255 || text.contains(['\n', '\r']) {
            return Err(invalid(field, "must be one line of at most 255 characters"));
        }
    }
    Ok(NewBackorder {
        account: account.id,
        tld: tld.name.as_str().to_string(),
        domain: name,
        class,
        price: price.amount,
        contacts: request.contacts,
        auth_code_wish: request.auth_code_wish,
        extensions,
        client_reference: request.client_reference,
        post_drop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_prefixes_match_any_field_with_the_prefix() {
        let mut tld = Tld::new(TldName::parse("us").unwrap());
        tld.required_extensions = vec!["X-US-NEXUS-CATEGORY".into(), "X-UK-*".into()];
        let mut given = BTreeMap::new();
        assert_eq!(missing_extensions(&tld, &given).len(), 2);
        given.insert("X-US-NEXUS-CATEGORY".to_string(), "C11".to_string());
        given.insert("X-UK-LEGAL-TYPE".to_string(), "IND".to_string());
        assert!(missing_extensions(&tld, &given).is_empty());
    }

    /// On the old code the rule listed the raw requirements (`X-UK-*`), naming no field a
    /// client could send.
    #[test]
    fn missing_extensions_name_a_field_to_send() {
        let uk = describe_missing(&["X-UK-*".to_string()]);
        assert_eq!(
            uk,
            "a field starting with X-UK-, such as X-UK-CONTACT-TYPE=IND"
        );
        let us = describe_missing(&[
            "X-US-NEXUS-APPPURPOSE".to_string(),
            "X-US-NEXUS-CATEGORY".to_string(),
        ]);
        assert!(us.contains("X-US-NEXUS-CATEGORY=C11"), "{us}");
        let it = describe_missing(&["X-IT-*".to_string()]);
        assert_eq!(it, "a field starting with X-IT- (any name after it)");
        let many: Vec<String> = (0..20).map(|i| format!("X-F{i}")).collect();
        let text = describe_missing(&many);
        assert!(text.ends_with("and 17 more"), "{text}");
    }
}
