//! The shipped default catalog (`data/default-catalog.toml`), parsed into domain values.
//! Loaded into a new database once; afterwards the operator owns the catalog.

use crate::domain::account::PriceTier;
use crate::domain::catalog::{BackorderClass, Tld, TldName};
use crate::domain::money::{Currency, Money};
use crate::store::{Price, PriceKey};
use serde::Deserialize;
use std::time::Duration;

pub const DEFAULT_CATALOG: &str = include_str!("../data/default-catalog.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    defaults: Defaults,
    #[serde(default)]
    price: Vec<PriceLine>,
    tld: Vec<TldLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    finalization_lead_secs: u64,
    lock_lead_secs: u64,
}

/// A price for every catalog TLD that offers the class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceLine {
    tier: String,
    class: String,
    currency: String,
    amount: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TldLine {
    name: String,
    #[serde(default)]
    first_come_first_served: bool,
    #[serde(default)]
    third_level_allowed: bool,
    #[serde(default)]
    required_extensions: Vec<String>,
    classes: Vec<String>,
    #[serde(default)]
    daily_deals: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("default catalog: {0}")]
pub struct CatalogError(String);

/// Parses a catalog file into TLDs and prices.
pub fn parse(text: &str) -> Result<(Vec<Tld>, Vec<Price>), CatalogError> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError(e.to_string()))?;
    let class = |text: &str| {
        BackorderClass::from_db(text).ok_or_else(|| CatalogError(format!("class {text:?}")))
    };
    let mut tlds = Vec::with_capacity(file.tld.len());
    for line in &file.tld {
        let name = TldName::validate(&line.name)
            .map_err(|rule| CatalogError(format!("tld name: {rule}")))?;
        tlds.push(Tld {
            name,
            first_come_first_served: line.first_come_first_served,
            third_level_allowed: line.third_level_allowed,
            required_extensions: line.required_extensions.clone(),
            classes: line
                .classes
                .iter()
                .map(|c| class(c))
                .collect::<Result<_, _>>()?,
            finalization_lead: Duration::from_secs(file.defaults.finalization_lead_secs),
            lock_lead: Duration::from_secs(file.defaults.lock_lead_secs),
            daily_deals: line.daily_deals,
        });
    }
    let mut prices = Vec::new();
    for line in &file.price {
        let tier = PriceTier::validate(&line.tier)
            .ok_or_else(|| CatalogError(format!("tier {:?}", line.tier)))?;
        let currency = Currency::parse(&line.currency).map_err(|e| CatalogError(e.to_string()))?;
        let amount = Money::parse_positive(currency, &line.amount)
            .map_err(|e| CatalogError(e.to_string()))?;
        let class = class(&line.class)?;
        for tld in tlds.iter().filter(|t| t.classes.contains(&class)) {
            prices.push(Price {
                key: PriceKey {
                    tier: tier.clone(),
                    tld: tld.name.clone(),
                    class,
                    currency,
                },
                amount,
            });
        }
    }
    Ok((tlds, prices))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tld<'a>(tlds: &'a [Tld], name: &str) -> &'a Tld {
        tlds.iter().find(|t| t.name.as_str() == name).unwrap()
    }

    #[test]
    fn the_shipped_catalog_has_the_seed_rules() {
        let (tlds, prices) = parse(DEFAULT_CATALOG).unwrap();
        assert!(tlds.len() > 340, "{} TLDs", tlds.len());
        for fcfs in ["ca", "nu", "se", "uk"] {
            assert!(tld(&tlds, fcfs).first_come_first_served, "{fcfs}");
        }
        assert!(!tld(&tlds, "com").first_come_first_served);
        for third in ["ag", "bz", "co", "lc", "sc", "uk", "vc"] {
            assert!(tld(&tlds, third).third_level_allowed, "{third}");
        }
        for needs in [
            "attorney", "country", "dentist", "it", "lawyer", "ltda", "nyc", "org.co", "srl", "uk",
            "us",
        ] {
            assert!(!tld(&tlds, needs).required_extensions.is_empty(), "{needs}");
        }
        assert!(tld(&tlds, "com").daily_deals && tld(&tlds, "net").daily_deals);
        assert!(!tld(&tlds, "org").daily_deals);
        assert_eq!(tld(&tlds, "com").lock_lead, Duration::from_secs(72 * 3600));
        assert!(
            prices.iter().any(
                |p| p.key.tld.as_str() == "com" && p.key.class == BackorderClass::LiteBackorder
            )
        );
        assert!(!prices.iter().any(|p| p.key.tld.as_str() == "se"
            && p.key.class == BackorderClass::LiteBackorder));
    }
}
