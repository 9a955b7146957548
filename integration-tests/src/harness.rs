//! Both services for one scenario, in-process, and everything a test or the drop-day runner
//! does with them, through the public gRPC APIs only:
//!
//! 1. [`Harness::start`]: the registry simulator (a scenario by name and a seed, manual clock)
//!    and the backorder service (`app::serve`, `--clock registry`, optionally the catcher's
//!    `--catcher-registrar` flags) on SQLite in a temporary folder or on a PostgreSQL URL;
//!    returns once the service follows the simulator's clock and the drop list is imported
//!    (`DropListService/ImportFromRegistry`) and the TLD leads are set. [`Harness::attach`]
//!    does the same over a service that runs elsewhere (the kill test's child process).
//! 2. Setup: accounts with their own API keys, deposits, orders, cancels, prepay, bids.
//! 3. [`Harness::run_until`]: the simulator's `RunUntil(until, step)`; it returns once the
//!    service has run its scheduler pass (and catcher) for every tick.
//! 4. Read back: orders, balances, transfers, `CheckLedger`, events, domains, auctions, and
//!    the simulator's race log (`GetStatistics`).
//!
//! TLD leads: the scenarios start a few minutes before the drops (`smoke`: 18:55, drops
//! 19:00-19:15), while the catalog's defaults close orders 2 h before a drop and hold funds
//! 72 h before that. [`Leads::SHORT`] (finalization 1 min before the drop, funds held 2 min
//! before finalization) makes orders placed at the start valid and lets one run see every
//! step: placed (18:55), held (from 18:57), finalized (from 18:59), caught or lost.

use crate::clients::{Api, unless_unimplemented};
use crate::money;
use crate::service::{ServiceOptions, ServiceServer};
use crate::sim::SimServer;
use crate::time::{duration_pb, from_pb, to_pb};
use backorder_proto::backorder::v1 as pb;
use backorder_proto::registry::v1 as registry;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};
use tonic::Status;
use tonic::transport::Channel;

/// The registrars of the shipped scenarios that are ours (`ours-1`, `ours-2`: two sessions
/// and five creates per second each), as `--catcher-registrar` values.
pub const SCENARIO_CATCHER_REGISTRARS: [&str; 2] =
    ["ours-1:ours-secret:2:5", "ours-2:ours-secret:2:5"];

#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite in a fresh temporary folder (the service's embedded default).
    TempSqlite,
    /// This URL as it is: `sqlite://PATH` or an (empty) PostgreSQL database.
    Url(String),
}

impl Database {
    pub fn kind(&self) -> &'static str {
        match self {
            Database::TempSqlite => "sqlite",
            Database::Url(url) if url.starts_with("sqlite:") => "sqlite",
            Database::Url(_) => "postgres",
        }
    }
}

/// When orders for a TLD close and when their funds are held, relative to the drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leads {
    /// `finalization_at = drop_time - finalization`.
    pub finalization: Duration,
    /// `lock_from = finalization_at - lock`.
    pub lock: Duration,
}

impl Leads {
    /// Finalization 1 min before the drop, funds held 2 min before that (see the module docs).
    pub const SHORT: Leads = Leads {
        finalization: Duration::minutes(1),
        lock: Duration::minutes(2),
    };
}

#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// A shipped scenario name or a scenario file.
    pub scenario: String,
    /// `None`: the scenario's own seed.
    pub seed: Option<u64>,
    pub database: Database,
    /// `--catcher-registrar` values; empty runs without a catcher.
    pub catcher_registrars: Vec<String>,
    /// Fail if the service has no catcher flag (instead of running without a catcher).
    pub require_catcher: bool,
    /// More `serve` flags, verbatim.
    pub extra_serve_args: Vec<String>,
    /// Set on every zone of the imported drop list; `None` keeps the catalog's.
    pub leads: Option<Leads>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            scenario: "smoke".into(),
            seed: None,
            database: Database::TempSqlite,
            catcher_registrars: SCENARIO_CATCHER_REGISTRARS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            require_catcher: false,
            extra_serve_args: Vec::new(),
            leads: Some(Leads::SHORT),
        }
    }
}

/// A service that is up, for [`Harness::attach`].
#[derive(Debug, Clone)]
pub struct Attached {
    pub channel: Channel,
    /// An operator API key of the service's database.
    pub operator_key: String,
    pub database: Database,
    /// The service runs a catcher.
    pub catcher: bool,
    pub notes: Vec<String>,
    /// Set on every zone of the imported drop list; `None` keeps the catalog's.
    pub leads: Option<Leads>,
}

/// A reseller account and its own API key.
#[derive(Clone)]
pub struct Reseller {
    pub id: String,
    pub name: String,
    pub api: Api,
}

/// What the service's drop list held after the start-up import.
#[derive(Debug, Clone)]
pub struct Imported {
    pub summary: pb::ImportProgress,
    pub entries: Vec<pb::DropListEntry>,
}

pub struct Harness {
    pub sim: SimServer,
    /// The service in this process; `None` when it runs in another one
    /// ([`Harness::attach`], e.g. `crate::child_service`).
    pub service: Option<ServiceServer>,
    /// The service's gRPC channel.
    pub channel: Channel,
    pub operator: Api,
    pub database: Database,
    /// The virtual time both services started at.
    pub start: DateTime<Utc>,
    /// The simulator's list at the start (with each name's published release window).
    pub registry_list: Vec<registry::PendingDelete>,
    /// The service's drop list after the start-up import.
    pub imported: Imported,
    /// `--catcher-registrar` was accepted by this build of the service.
    pub catcher: bool,
    /// Why the catcher is off, when it was asked for.
    pub notes: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Harness {
    pub async fn start(options: HarnessOptions) -> anyhow::Result<Harness> {
        let sim = SimServer::start(&options.scenario, options.seed).await?;
        let start = sim_now(&sim).await?;
        let (database_url, temp) = match &options.database {
            Database::TempSqlite => {
                let dir = tempfile::Builder::new().prefix("drop-day-").tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("backorder.db").display());
                (url, Some(dir))
            }
            Database::Url(url) => (url.clone(), None),
        };
        let key = crate::service::operator_key(&database_url, start).await?;
        let service = ServiceServer::start(&ServiceOptions {
            database_url,
            registry_url: sim.url.clone(),
            catcher_registrars: options.catcher_registrars.clone(),
            require_catcher: options.require_catcher,
            extra_args: options.extra_serve_args.clone(),
        })
        .await?;
        let attached = Attached {
            channel: service.channel.clone(),
            operator_key: key,
            database: options.database.clone(),
            catcher: service.parsed.catcher,
            notes: service.parsed.catcher_note.iter().cloned().collect(),
            leads: options.leads,
        };
        let mut harness = Harness::attach(sim, attached).await?;
        harness.service = Some(service);
        harness._temp = temp;
        Ok(harness)
    }

    /// The harness over a simulator and a service that is already up (in this process or
    /// another one, following the simulator's clock): reads the simulator's list, imports
    /// the drop list into the service and sets the TLD leads, as [`Harness::start`] does.
    pub async fn attach(sim: SimServer, service: Attached) -> anyhow::Result<Harness> {
        let start = sim_now(&sim).await?;
        let operator = Api::new(service.channel.clone(), &service.operator_key)?;
        let registry_list = registry_list(&sim).await?;
        let mut harness = Harness {
            catcher: service.catcher,
            notes: service.notes,
            sim,
            service: None,
            channel: service.channel,
            operator,
            database: service.database,
            start,
            registry_list,
            imported: Imported {
                summary: pb::ImportProgress::default(),
                entries: Vec::new(),
            },
            _temp: None,
        };
        harness.imported = harness.import_drop_list().await?;
        if let Some(leads) = service.leads {
            let zones: BTreeSet<String> = harness
                .imported
                .entries
                .iter()
                .map(|e| e.zone.clone())
                .collect();
            for zone in zones {
                harness.set_leads(&zone, leads).await?;
            }
        }
        Ok(harness)
    }

    /// Stops the service, then the simulator, each gracefully.
    pub async fn stop(self) -> anyhow::Result<()> {
        let Harness { sim, service, .. } = self;
        if let Some(service) = service {
            service.stop().await?;
        }
        sim.stop().await
    }

    // ---- setup -------------------------------------------------------------------------

    /// Operator `ImportFromRegistry` (the service also imports by itself at start; imports
    /// are idempotent upserts), then the whole list as the service has it.
    pub async fn import_drop_list(&self) -> anyhow::Result<Imported> {
        let mut stream = self
            .operator
            .drop_list
            .clone()
            .import_from_registry(pb::ImportFromRegistryRequest::default())
            .await?
            .into_inner();
        let mut summary = None;
        while let Some(progress) = stream.message().await? {
            if progress.done {
                summary = Some(progress);
            }
        }
        let summary =
            summary.ok_or_else(|| anyhow::anyhow!("the import ended without its summary"))?;
        let mut entries = Vec::new();
        let mut rows = self
            .operator
            .drop_list
            .clone()
            .export_drop_list(pb::ExportDropListRequest {
                query: Some(pb::DropListQuery::default()),
            })
            .await?
            .into_inner();
        while let Some(entry) = rows.message().await? {
            entries.push(entry);
        }
        Ok(Imported { summary, entries })
    }

    /// Sets a catalog TLD's leads (`CatalogService/UpsertTld`); a zone the catalog does not
    /// offer is left alone (orders for it are refused as not supported).
    pub async fn set_leads(&self, zone: &str, leads: Leads) -> anyhow::Result<bool> {
        let mut catalog = self.operator.catalog.clone();
        let tld = match catalog
            .get_tld(pb::GetTldRequest { name: zone.into() })
            .await
        {
            Ok(tld) => tld.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(false),
            Err(status) => return Err(status.into()),
        };
        catalog
            .upsert_tld(pb::UpsertTldRequest {
                tld: Some(pb::Tld {
                    finalization_lead: Some(duration_pb(leads.finalization)),
                    lock_lead: Some(duration_pb(leads.lock)),
                    ..tld
                }),
            })
            .await?;
        Ok(true)
    }

    /// A catalog entry as anyone sees it.
    pub async fn tld(&self, zone: &str) -> Result<pb::Tld, Status> {
        Ok(self
            .operator
            .catalog
            .clone()
            .get_tld(pb::GetTldRequest { name: zone.into() })
            .await?
            .into_inner())
    }

    /// A USD account with its own API key.
    pub async fn create_reseller(&self, name: &str) -> anyhow::Result<Reseller> {
        let account = self
            .operator
            .accounts
            .clone()
            .create_account(pb::CreateAccountRequest {
                display_name: name.into(),
                currency_code: money::CURRENCY.into(),
                request_id: format!("account-{name}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        let key = self
            .operator
            .accounts
            .clone()
            .create_api_key(pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: account.id.clone(),
                label: format!("{name}-e2e"),
            })
            .await?
            .into_inner();
        Ok(Reseller {
            id: account.id,
            name: name.into(),
            api: Api::new(self.channel.clone(), &key.secret)?,
        })
    }

    /// Operator deposit (idempotent by `request_id`).
    pub async fn deposit(
        &self,
        account_id: &str,
        cents: i64,
        request_id: &str,
    ) -> Result<pb::Transfer, Status> {
        Ok(self
            .operator
            .accounts
            .clone()
            .create_deposit(pb::CreateDepositRequest {
                account_id: account_id.into(),
                amount: Some(money::usd(cents)),
                request_id: request_id.into(),
                memo: "e2e deposit".into(),
            })
            .await?
            .into_inner())
    }

    /// A `CreateBackorder` request for a domain, with the extension fields its TLD requires
    /// (see [`crate::drop_day::extensions_for`]) and an idempotency key.
    pub async fn order_request(
        &self,
        domain: &str,
        zone: &str,
        class: pb::BackorderClass,
        request_id: &str,
    ) -> Result<pb::CreateBackorderRequest, Status> {
        let tld = self.tld(zone).await?;
        Ok(pb::CreateBackorderRequest {
            domain: domain.into(),
            class: class as i32,
            extensions: crate::drop_day::extensions_for(&tld.required_extensions),
            request_id: request_id.into(),
            allow_duplicate: Some(true),
            ..Default::default()
        })
    }

    /// Places an order with the reseller's own key.
    pub async fn place_order(
        &self,
        reseller: &Reseller,
        request: pb::CreateBackorderRequest,
    ) -> Result<pb::CreateBackorderResponse, Status> {
        Ok(reseller
            .api
            .backorders
            .clone()
            .create_backorder(request)
            .await?
            .into_inner())
    }

    // ---- the clock ---------------------------------------------------------------------

    /// The simulator's virtual time (the service follows it tick by tick).
    pub async fn now(&self) -> anyhow::Result<DateTime<Utc>> {
        sim_now(&self.sim).await
    }

    /// `RunUntil(until, step)`: a tick per step; returns once every tick was acted on.
    pub async fn run_until(&self, until: DateTime<Utc>, step: Duration) -> anyhow::Result<()> {
        self.run_until_with(until, step, |_| {}).await
    }

    /// Like [`Harness::run_until`], in calls of at most 60 ticks, telling `progress` the
    /// virtual time after each.
    pub async fn run_until_with(
        &self,
        until: DateTime<Utc>,
        step: Duration,
        mut progress: impl FnMut(DateTime<Utc>),
    ) -> anyhow::Result<()> {
        anyhow::ensure!(step > Duration::zero(), "step must be positive");
        let mut now = self.now().await?;
        let mut control = self.sim.control();
        while now < until {
            let next = (now + step * 60).min(until);
            let clock = control
                .run_until(registry::RunUntilRequest {
                    until: Some(to_pb(next)),
                    step: Some(duration_pb(step)),
                })
                .await?
                .into_inner();
            now = from_pb(clock.now.as_ref()).unwrap_or(next);
            progress(now);
        }
        Ok(())
    }

    /// The service's own clock (it follows the simulator's).
    pub async fn service_now(&self) -> anyhow::Result<DateTime<Utc>> {
        let clock = self
            .operator
            .operator
            .clone()
            .get_clock(pb::GetClockRequest {})
            .await?
            .into_inner();
        from_pb(clock.now.as_ref()).ok_or_else(|| anyhow::anyhow!("GetClock without a time"))
    }

    // ---- read back ---------------------------------------------------------------------

    /// Every order of every account, oldest first (operator `ListBackorders`, paged).
    pub async fn backorders(&self) -> anyhow::Result<Vec<pb::Backorder>> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .operator
                .backorders
                .clone()
                .list_backorders(pb::ListBackordersRequest {
                    order_by: pb::BackorderOrderBy::CreateTime as i32,
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            all.extend(page.backorders);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    pub async fn balance(&self, account_id: &str) -> Result<pb::Balance, Status> {
        Ok(self
            .operator
            .accounts
            .clone()
            .get_balance(pb::GetBalanceRequest {
                account_id: account_id.into(),
            })
            .await?
            .into_inner())
    }

    /// An account's transfers (newest first), every page.
    pub async fn transfers(&self, account_id: &str) -> anyhow::Result<Vec<pb::Transfer>> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .operator
                .accounts
                .clone()
                .list_transfers(pb::ListTransfersRequest {
                    account_id: account_id.into(),
                    page_size: 1000,
                    page_token: token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            all.extend(page.transfers);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    /// `OperatorService/CheckLedger`: every invariant and the trial balance.
    pub async fn check_ledger(&self) -> Result<pb::CheckLedgerResponse, Status> {
        Ok(self
            .operator
            .operator
            .clone()
            .check_ledger(pb::CheckLedgerRequest {})
            .await?
            .into_inner())
    }

    /// Every event of every account, in order.
    pub async fn events(&self) -> anyhow::Result<Vec<pb::Event>> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .operator
                .events
                .clone()
                .list_events(pb::ListEventsRequest {
                    after_cursor: cursor.clone(),
                    page_size: 1000,
                    account_id: String::new(),
                })
                .await?
                .into_inner();
            if page.events.is_empty() || page.next_cursor.is_empty() || page.next_cursor == cursor {
                all.extend(page.events);
                return Ok(all);
            }
            all.extend(page.events);
            cursor = page.next_cursor;
        }
    }

    /// Every assigned domain (operator `ListDomains`); `None` while domain assignment has
    /// not landed (`UNIMPLEMENTED`).
    pub async fn domains(&self) -> anyhow::Result<Option<Vec<pb::Domain>>> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = unless_unimplemented(
                self.operator
                    .backorders
                    .clone()
                    .list_domains(pb::ListDomainsRequest {
                        page_size: 1000,
                        page_token: token,
                        account_id: String::new(),
                    })
                    .await,
            )?;
            let Some(page) = page else { return Ok(None) };
            let page = page.into_inner();
            all.extend(page.domains);
            if page.next_page_token.is_empty() {
                return Ok(Some(all));
            }
            token = page.next_page_token;
        }
    }

    /// The auctions each reseller holds seats in, as its seats see them (one entry per
    /// reseller and auction); `None` while auctions have not landed (`UNIMPLEMENTED`).
    pub async fn auctions(
        &self,
        resellers: &[Reseller],
    ) -> anyhow::Result<Option<Vec<(String, pb::Auction)>>> {
        let mut all = Vec::new();
        for reseller in resellers {
            let mut token = String::new();
            loop {
                let page = unless_unimplemented(
                    reseller
                        .api
                        .auctions
                        .clone()
                        .list_auctions(pb::ListAuctionsRequest {
                            page_size: 1000,
                            page_token: token,
                        })
                        .await,
                )?;
                let Some(page) = page else { return Ok(None) };
                let page = page.into_inner();
                all.extend(
                    page.auctions
                        .into_iter()
                        .map(|auction| (reseller.id.clone(), auction)),
                );
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        Ok(Some(all))
    }

    /// One auction as the operator sees it (public figures).
    pub async fn auction(&self, auction_id: &str) -> Result<Option<pb::Auction>, Status> {
        Ok(unless_unimplemented(
            self.operator
                .auctions
                .clone()
                .get_auction(pb::GetAuctionRequest {
                    auction_id: auction_id.into(),
                    backorder_id: String::new(),
                })
                .await,
        )?
        .map(tonic::Response::into_inner))
    }

    /// The simulator's race log and catcher totals, every page merged.
    pub async fn race_log(&self) -> anyhow::Result<registry::Statistics> {
        let mut control = self.sim.control();
        let mut merged: Option<registry::Statistics> = None;
        let mut token = String::new();
        loop {
            let page = control
                .get_statistics(registry::GetStatisticsRequest {
                    tlds: Vec::new(),
                    page_size: 10_000,
                    page_token: token,
                })
                .await?
                .into_inner();
            let next = page.next_page_token.clone();
            match &mut merged {
                None => merged = Some(page),
                Some(stats) => stats.races.extend(page.races),
            }
            if next.is_empty() {
                let mut stats = merged.unwrap_or_default();
                stats.next_page_token.clear();
                return Ok(stats);
            }
            token = next;
        }
    }
}

/// The catcher name of our registrars in the simulator's race log.
pub const OURS: &str = "ours";

/// Domains the race log says our catcher won.
pub fn won_by_us(stats: &registry::Statistics) -> BTreeSet<String> {
    stats
        .races
        .iter()
        .filter(|race| race.winner == OURS)
        .map(|race| race.domain.clone())
        .collect()
}

/// Orders of each domain.
pub fn by_domain(orders: &[pb::Backorder]) -> BTreeMap<&str, Vec<&pb::Backorder>> {
    let mut map: BTreeMap<&str, Vec<&pb::Backorder>> = BTreeMap::new();
    for order in orders {
        map.entry(order.domain.as_str()).or_default().push(order);
    }
    map
}

/// `BACKORDER_STATUS_SUCCESSFUL` -> `SUCCESSFUL`.
pub fn status_name(status: i32) -> String {
    pb::BackorderStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("BACKORDER_STATUS_")
                .to_string()
        })
        .unwrap_or_else(|_| format!("STATUS_{status}"))
}

pub fn failure_name(reason: i32) -> String {
    pb::FailureReason::try_from(reason)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("FAILURE_REASON_")
                .to_string()
        })
        .unwrap_or_else(|_| format!("REASON_{reason}"))
}

async fn sim_now(sim: &SimServer) -> anyhow::Result<DateTime<Utc>> {
    let clock = sim
        .control()
        .get_clock(registry::GetClockRequest {})
        .await?
        .into_inner();
    from_pb(clock.now.as_ref()).ok_or_else(|| anyhow::anyhow!("the simulator sent no time"))
}

async fn registry_list(sim: &SimServer) -> anyhow::Result<Vec<registry::PendingDelete>> {
    let mut feed = sim.feed();
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = feed
            .list_pending_deletes(registry::ListPendingDeletesRequest {
                tlds: Vec::new(),
                page_size: 1000,
                page_token: token,
            })
            .await?
            .into_inner();
        all.extend(page.entries);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}
