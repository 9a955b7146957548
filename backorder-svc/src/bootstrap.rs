//! First start of a database: load the shipped catalog and create the bootstrap operator key.

use crate::auth;
use crate::catalog;
use crate::clock::SharedClock;
use crate::store::{KeyRole, SharedStore};

/// What the first start created; the secret is to be shown once and never again.
#[derive(Debug, Default)]
pub struct Bootstrapped {
    pub catalog_loaded: bool,
    pub operator_secret: Option<String>,
}

pub async fn first_start(store: &SharedStore, clock: &SharedClock) -> anyhow::Result<Bootstrapped> {
    let (tlds, prices) = catalog::parse(catalog::DEFAULT_CATALOG)?;
    let catalog_loaded = store.seed_catalog_once(&tlds, &prices).await?;
    let key = auth::generate(KeyRole::Operator, None, "bootstrap");
    let operator_secret = store
        .insert_first_operator_key(key.stored, clock.now())
        .await?
        .map(|_| key.secret);
    Ok(Bootstrapped {
        catalog_loaded,
        operator_secret,
    })
}

/// `backorder-svc create-operator-key`: another operator key, printed once.
pub async fn create_operator_key(
    store: &SharedStore,
    clock: &SharedClock,
    label: &str,
) -> anyhow::Result<String> {
    let key = auth::generate(KeyRole::Operator, None, label);
    store.insert_api_key(key.stored, clock.now()).await?;
    Ok(key.secret)
}
