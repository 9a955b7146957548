//! Command line and environment configuration (clap with env fallbacks; laptop defaults).

use crate::catcher::Accreditation;
use crate::domain::auction::{IncrementTable, Rules, Tier};
use crate::domain::money::{Currency, Money};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "backorder-svc",
    version,
    about = "Domain backorder service (gRPC)",
    after_help = "Without a command it serves: `backorder-svc --clock manual` is \
                  `backorder-svc serve --clock manual` (see `backorder-svc serve --help`)."
)]
pub struct Cli {
    /// Database: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://backorder.db",
        global = true
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The words that name a command (or ask for help) where the command goes.
const COMMAND_WORDS: [&str; 10] = [
    "serve",
    "import-drop-list",
    "create-operator-key",
    "login",
    "test-account",
    "help",
    "--help",
    "-h",
    "--version",
    "-V",
];

impl Cli {
    /// Parses the process's arguments with `serve` as the default command, so the server
    /// flags work without it (`backorder-svc --clock manual`) and take their environment
    /// variables when nothing is given.
    pub fn parse_with_default_command() -> Self {
        Self::parse_from(with_default_command(std::env::args_os()))
    }

    /// The command to run (`serve` with its defaults when none was parsed).
    pub fn into_command(self) -> Command {
        self.command
            .unwrap_or_else(|| Command::Serve(ServeArgs::default()))
    }
}

/// `argv` with `serve` inserted where the command goes when no command (nor help) is named
/// there. Only `--database-url`, the one global flag, may stand before the command.
pub fn with_default_command(
    argv: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut argv: Vec<std::ffi::OsString> = argv.into_iter().collect();
    let mut at = 1;
    while let Some(word) = argv.get(at).map(|w| w.to_string_lossy().into_owned()) {
        if word == "--database-url" {
            at += 2;
        } else if word.starts_with("--database-url=") {
            at += 1;
        } else {
            break;
        }
    }
    let named = argv
        .get(at)
        .is_some_and(|w| COMMAND_WORDS.contains(&w.to_string_lossy().as_ref()));
    if !named {
        argv.insert(at.min(argv.len()), "serve".into());
    }
    argv
}

// Parsed once at start: the size of the serve flags costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default: its flags work without the `serve` word too).
    Serve(ServeArgs),
    /// Import the pending-delete list from a file (HEXONET zip or CSV) and print the summary.
    ImportDropList(ImportDropListArgs),
    /// Create another operator API key and print it once.
    CreateOperatorKey {
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Manage an account's logins for the HEXONET-compatible command API (docs/logins.md).
    #[command(subcommand)]
    Login(LoginCommand),
    /// Test accounts of the test environment (HEXONET's OT&E, play money; docs/command-api.md).
    #[command(subcommand)]
    TestAccount(TestAccountCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum TestAccountCommand {
    /// Open a reseller's account in the test environment in one step: the account, its
    /// login and its play money. The password is taken from BACKORDER_LOGIN_PASSWORD, or
    /// read from standard input with --password-stdin, or else generated and printed once.
    /// Run again with the same login, it finishes what an interruption left undone.
    Open(TestAccountOpenArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct TestAccountOpenArgs {
    /// The account's display name (the reseller's company, say).
    #[arg(long)]
    pub name: String,
    /// The reseller's login (3 to 64 of a-z, 0-9, `.`, `_`, `-`; stored lower-cased).
    #[arg(long)]
    pub login: String,
    /// The account's currency (ISO 4217).
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Play money deposited at once, in the account's currency (`0` for none).
    #[arg(long, default_value = "10000.00")]
    pub play_money: String,
    /// The account's price tier.
    #[arg(long, default_value = crate::domain::account::PriceTier::DEFAULT)]
    pub price_tier: String,
    /// Read the password from standard input (its first line).
    #[arg(long)]
    pub password_stdin: bool,
    /// The test environment's database, as `serve` places it: `auto` (beside
    /// --database-url) or a URL.
    #[arg(long, env = "BACKORDER_TEST_DATABASE_URL", default_value = "auto")]
    pub test_database_url: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LoginCommand {
    /// Create a login (or `login!role` with --role), or replace its password and access
    /// (which ends its sessions). The password is read from the first line of standard input,
    /// or taken from BACKORDER_LOGIN_PASSWORD when that is set (and --password-stdin is not
    /// given); it is never accepted as an argument.
    Set(LoginSetArgs),
    /// Delete a login (its sessions end with it).
    Delete(LoginTarget),
    /// List an account's logins (never their passwords).
    List {
        /// The account: `42` or `accounts/42`.
        #[arg(long, value_parser = parse_account_id)]
        account: crate::domain::account::AccountId,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoginTarget {
    /// The account: `42` or `accounts/42`.
    #[arg(long, value_parser = parse_account_id)]
    pub account: crate::domain::account::AccountId,
    /// The login name (3 to 64 of a-z, 0-9, `.`, `_`, `-`; any case, stored lower-cased).
    #[arg(long)]
    pub login: String,
    /// A role: the client logs in as `LOGIN!ROLE`. Without it, the account's main login.
    #[arg(long)]
    pub role: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct LoginSetArgs {
    #[command(flatten)]
    pub target: LoginTarget,
    /// The login may read but change nothing.
    #[arg(long)]
    pub read_only: bool,
    /// Read the password from standard input even when BACKORDER_LOGIN_PASSWORD is set
    /// (standard input is the default otherwise).
    #[arg(long)]
    pub password_stdin: bool,
}

/// The environment variable `login set` takes the password from.
pub const LOGIN_PASSWORD_ENV: &str = "BACKORDER_LOGIN_PASSWORD";

/// `42` or `accounts/42`.
pub fn parse_account_id(text: &str) -> Result<crate::domain::account::AccountId, String> {
    crate::domain::account::AccountId::parse(text)
        .ok_or_else(|| format!("`{text}`: expected an account id such as 42 or accounts/42"))
}

#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BACKORDER_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Time source: the system clock, or a manual clock moved by OperatorService calls.
    #[arg(long, env = "BACKORDER_CLOCK", value_enum, default_value_t = ClockKind::System)]
    pub clock: ClockKind,

    /// Start time of the manual clock (RFC 3339, years 0000 to 9999); defaults to the
    /// current time.
    #[arg(long, env = "BACKORDER_CLOCK_START", value_parser = parse_clock_start)]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,

    /// The registry's PendingDeleteFeed (e.g. http://127.0.0.1:50052): the drop list is
    /// imported from it at start and every --drop-list-interval, and followed in between.
    #[arg(long, env = "BACKORDER_REGISTRY_URL")]
    pub registry_url: Option<String>,

    /// Minutes between full drop-list imports from the registry feed.
    #[arg(long, env = "BACKORDER_DROP_LIST_INTERVAL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub drop_list_interval: u64,

    /// Seconds between scheduler passes on the system clock. With the manual clock a pass
    /// runs whenever the clock is moved (OperatorService SetClock / AdvanceClock).
    #[arg(long, env = "BACKORDER_SCHEDULER_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub scheduler_interval: u64,

    /// `REGISTRAR:PASSWORD` for the registry at --registry-url: placements are checked
    /// against its premium names (EPP Check, cached 24 h). Without it no premium check runs.
    #[arg(long, env = "BACKORDER_REGISTRY_LOGIN")]
    pub registry_login: Option<String>,

    /// Currency of new private auctions (ISO 4217). Winners whose account is in another
    /// currency pay outside the platform and the operator confirms it.
    #[arg(long, env = "BACKORDER_AUCTION_CURRENCY", default_value = "USD")]
    pub auction_currency: String,

    /// Opening bid of new auctions, in the auction currency.
    #[arg(long, env = "BACKORDER_AUCTION_OPENING_BID", default_value = "10.00")]
    pub auction_opening_bid: String,

    /// Bid increments of new auctions by current price: one amount for a flat table
    /// ("5.00"), or tiers "INCREMENT<BELOW,...,INCREMENT_ABOVE" ("5.00<500.00,10.00<1000.00,25.00").
    #[arg(long, env = "BACKORDER_AUCTION_INCREMENTS", default_value = "5.00")]
    pub auction_increments: String,

    /// A registrar accreditation the catcher creates with at --registry-url:
    /// `ID:PASSWORD[:SESSIONS[:CREATES_PER_SECOND]]` (defaults 1 session, 1 create per second
    /// per session). Repeat the flag for several; the environment variable takes a
    /// comma-separated list. Without any, no catcher runs.
    #[arg(
        long = "catcher-registrar",
        env = "BACKORDER_CATCHER_REGISTRARS",
        value_delimiter = ',',
        value_parser = Accreditation::parse
    )]
    pub catcher_registrars: Vec<Accreditation>,

    /// How long after a drop's window end (or exact time) a name that never became
    /// available is waited for before its orders fail DOMAIN_NOT_DROPPED (`90s`, `30m`, `1h`).
    #[arg(long, env = "BACKORDER_CATCH_GRACE", default_value = "1h", value_parser = parse_duration)]
    pub catch_grace: chrono::Duration,

    /// Milliseconds between catcher steps on the system (or manual) clock. On the registry's
    /// clock a step runs on every tick instead.
    #[arg(long, env = "BACKORDER_CATCHER_INTERVAL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub catcher_interval_ms: u64,

    /// Address of the HEXONET-compatible command API (`/api/call.cgi`, and
    /// `/ote/api/call.cgi` for the test environment), or `off`.
    #[arg(long, env = "BACKORDER_HTTP_LISTEN", default_value = DEFAULT_HTTP_LISTEN)]
    pub http_listen: String,

    /// Database of the test environment (HEXONET's OT&E, `s_entity=1234`): its own
    /// accounts, logins, orders and money. `auto`: beside the live one (a SQLite file
    /// `NAME-ote.db`, or a PostgreSQL database `NAME_ote` on the same server, created if
    /// missing); `off`: no test environment.
    #[arg(long, env = "BACKORDER_TEST_DATABASE_URL", default_value = "auto")]
    pub test_database_url: String,

    /// Address of the test environment's gRPC API (its own API keys, printed at its first
    /// start), or `off`.
    #[arg(long, env = "BACKORDER_TEST_LISTEN", default_value = DEFAULT_TEST_LISTEN)]
    pub test_listen: String,

    /// The registry simulator the test environment races: its drop list is imported from
    /// there and, with --test-catcher-registrar, its orders are caught there. None by
    /// default: the test environment then takes orders and moves play money but catches
    /// nothing. Never the live registry: the two environments must not compete.
    #[arg(long, env = "BACKORDER_TEST_REGISTRY_URL")]
    pub test_registry_url: Option<String>,

    /// An accreditation of the test environment's catcher at --test-registry-url (the form of
    /// --catcher-registrar). Repeat the flag for several; the environment variable takes a
    /// comma-separated list.
    #[arg(
        long = "test-catcher-registrar",
        env = "BACKORDER_TEST_CATCHER_REGISTRARS",
        value_delimiter = ',',
        value_parser = Accreditation::parse
    )]
    pub test_catcher_registrars: Vec<Accreditation>,

    /// `REGISTRAR:PASSWORD` for premium checks at --test-registry-url.
    #[arg(long, env = "BACKORDER_TEST_REGISTRY_LOGIN")]
    pub test_registry_login: Option<String>,

    /// The test environment's clock. By default the system clock when live runs on it,
    /// otherwise a manual clock of its own (moved by the test environment's OperatorService);
    /// `registry` follows the simulator at --test-registry-url.
    #[arg(long, env = "BACKORDER_TEST_CLOCK", value_enum)]
    pub test_clock: Option<ClockKind>,
}

/// The test environment's default gRPC address.
pub const DEFAULT_TEST_LISTEN: &str = "127.0.0.1:50061";

/// The command API's default address.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:50080";

impl ServeArgs {
    /// The command API's address, or None when it is `off`.
    pub fn http_address(&self) -> anyhow::Result<Option<SocketAddr>> {
        optional_address("--http-listen", &self.http_listen)
    }

    /// The test environment's gRPC address, or None when it is `off`.
    pub fn test_address(&self) -> anyhow::Result<Option<SocketAddr>> {
        optional_address("--test-listen", &self.test_listen)
    }

    /// The test environment's database URL, or None when it is `off`.
    pub fn test_database(&self, live: &str) -> anyhow::Result<Option<String>> {
        test_database(&self.test_database_url, live)
    }

    /// How the live environment runs, its flags checked together.
    pub fn live_settings(&self, database_url: &str) -> anyhow::Result<Settings> {
        Ok(Settings {
            environment: EnvironmentKind::Live,
            database_url: database_url.to_string(),
            clock: self.clock,
            clock_start: self.clock_start,
            registry: self.registry_settings(
                "",
                self.registry_url.as_ref(),
                self.registry_login.as_ref(),
                &self.catcher_registrars,
                self.clock,
            )?,
            scheduler_interval: self.scheduler_interval,
            auction_rules: self.auction_rules()?,
        })
    }

    /// How the test environment runs, or None when it is `off`: its own database, clock and
    /// (when configured) registry simulator; the intervals and auction rules are live's.
    pub fn test_settings(&self, live_database_url: &str) -> anyhow::Result<Option<Settings>> {
        let Some(database_url) = self.test_database(live_database_url)? else {
            let configured = self.test_registry_url.is_some()
                || !self.test_catcher_registrars.is_empty()
                || self.test_registry_login.is_some()
                || self.test_clock.is_some();
            if configured {
                anyhow::bail!(
                    "--test-registry-url, --test-catcher-registrar, --test-registry-login and \
                     --test-clock configure the test environment, which --test-database-url \
                     off turns off"
                );
            }
            return Ok(None);
        };
        if self.test_registry_url.is_some() && self.test_registry_url == self.registry_url {
            anyhow::bail!(
                "--test-registry-url: the test environment must not race at live's registry \
                 (--registry-url); give it a simulator of its own"
            );
        }
        let clock = self.test_clock.unwrap_or(match self.clock {
            ClockKind::System => ClockKind::System,
            ClockKind::Manual | ClockKind::Registry => ClockKind::Manual,
        });
        Ok(Some(Settings {
            environment: EnvironmentKind::Test,
            database_url,
            clock,
            // A manual test clock starts where live's manual clock starts (or now).
            clock_start: self.clock_start,
            registry: self.registry_settings(
                "test-",
                self.test_registry_url.as_ref(),
                self.test_registry_login.as_ref(),
                &self.test_catcher_registrars,
                clock,
            )?,
            scheduler_interval: self.scheduler_interval,
            auction_rules: self.auction_rules()?,
        }))
    }

    /// One environment's registry flags (`prefix` is `""` or `"test-"`), checked together.
    fn registry_settings(
        &self,
        prefix: &str,
        url: Option<&String>,
        login: Option<&String>,
        registrars: &[Accreditation],
        clock: ClockKind,
    ) -> anyhow::Result<Option<RegistrySettings>> {
        let Some(url) = url else {
            if !registrars.is_empty() {
                anyhow::bail!(
                    "--{prefix}catcher-registrar needs --{prefix}registry-url (the registry to catch at)"
                );
            }
            if login.is_some() {
                anyhow::bail!("--{prefix}registry-login needs --{prefix}registry-url");
            }
            if clock == ClockKind::Registry {
                anyhow::bail!(
                    "--{prefix}clock registry needs --{prefix}registry-url (the simulator to follow)"
                );
            }
            return Ok(None);
        };
        Ok(Some(RegistrySettings {
            url: url.clone(),
            login: login.cloned(),
            catcher_registrars: registrars.to_vec(),
            catch_grace: self.catch_grace,
            catcher_interval_ms: self.catcher_interval_ms,
            drop_list_interval: self.drop_list_interval,
        }))
    }

    /// The rules new auctions open with (length, soft close and start hour are the spec's).
    pub fn auction_rules(&self) -> anyhow::Result<Rules> {
        let currency = Currency::parse(&self.auction_currency)
            .map_err(|e| anyhow::anyhow!("--auction-currency: {e}"))?;
        let amount = |flag: &str, text: &str| {
            Money::parse_positive(currency, text.trim())
                .map(|m| m.minor)
                .map_err(|e| anyhow::anyhow!("{flag}: {text:?}: {e}"))
        };
        let opening_bid = amount("--auction-opening-bid", &self.auction_opening_bid)?;
        let mut items: Vec<&str> = self.auction_increments.split(',').collect();
        let above = amount("--auction-increments", items.pop().unwrap_or_default())?;
        let tiers = items
            .into_iter()
            .map(|item| {
                let (increment, below) = item.split_once('<').ok_or_else(|| {
                    anyhow::anyhow!("--auction-increments: {item:?} must be INCREMENT<BELOW")
                })?;
                Ok(Tier {
                    increment: amount("--auction-increments", increment)?,
                    below: amount("--auction-increments", below)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let increments = IncrementTable::tiered(tiers, above)
            .map_err(|e| anyhow::anyhow!("--auction-increments: {e}"))?;
        Ok(Rules {
            currency,
            opening_bid,
            increments,
            ..Rules::default()
        })
    }
}

/// How one environment (live or test) runs: everything `environment::start` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: EnvironmentKind,
    pub database_url: String,
    pub clock: ClockKind,
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
    pub registry: Option<RegistrySettings>,
    pub scheduler_interval: u64,
    pub auction_rules: Rules,
}

/// Which environment: live, or the test environment (HEXONET's OT&E, play money).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvironmentKind {
    #[default]
    Live,
    Test,
}

impl EnvironmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

/// The registry an environment imports its drop list from and catches at.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub url: String,
    /// `REGISTRAR:PASSWORD` for premium checks.
    pub login: Option<String>,
    /// Without any, no catcher runs.
    pub catcher_registrars: Vec<Accreditation>,
    pub catch_grace: chrono::Duration,
    pub catcher_interval_ms: u64,
    /// Minutes between full drop-list imports.
    pub drop_list_interval: u64,
}

/// The test environment's database for the `--test-database-url` setting, or None when it
/// is `off`.
pub fn test_database(setting: &str, live: &str) -> anyhow::Result<Option<String>> {
    match setting.trim() {
        "off" => Ok(None),
        "auto" => beside(live).map(Some),
        url if url == live => {
            anyhow::bail!("--test-database-url: the test environment needs its own database")
        }
        url => Ok(Some(url.to_string())),
    }
}

/// An address, or None for `off`.
fn optional_address(flag: &str, text: &str) -> anyhow::Result<Option<SocketAddr>> {
    match text.trim() {
        "off" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            anyhow::anyhow!("{flag}: `{text}` is not an address like 127.0.0.1:50080 or `off`")
        }),
    }
}

/// The test environment's database beside the live one: `live.db` -> `live-ote.db`,
/// `postgres://host/name` -> `postgres://host/name_ote` (query parameters kept).
pub fn beside(live: &str) -> anyhow::Result<String> {
    let (base, query) = live.split_once('?').unwrap_or((live, ""));
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    if base.starts_with("sqlite:") {
        let (stem, extension) = match base.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') && !stem.ends_with(':') => {
                (stem, format!(".{ext}"))
            }
            _ => (base, String::new()),
        };
        if base.contains(":memory:") {
            anyhow::bail!(
                "--test-database-url: a live database in memory has no place beside it; name one or say `off`"
            );
        }
        return Ok(format!("{stem}-ote{extension}{query}"));
    }
    if base.starts_with("postgres://") || base.starts_with("postgresql://") {
        let (server, name) = base
            .rsplit_once('/')
            .filter(|(server, name)| {
                !name.is_empty() && server.contains("//") && !server.ends_with('/')
            })
            .ok_or_else(|| {
                anyhow::anyhow!("--database-url: name the database (postgres://host/NAME)")
            })?;
        return Ok(format!("{server}/{name}_ote{query}"));
    }
    anyhow::bail!(
        "--test-database-url: cannot place a test database beside `{live}`; name one or say `off`"
    )
}

/// An RFC 3339 time within years 0000 to 9999: the manual clock never leaves that range
/// (chrono's parser also takes signed years of more digits, such as `+262000-01-01T00:00:00Z`).
pub fn parse_clock_start(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let time: chrono::DateTime<chrono::Utc> = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}`: not an RFC 3339 time ({e})"))?;
    if !crate::domain::lifecycle::in_range(time) {
        return Err(format!("`{text}`: must lie within years 0000 to 9999"));
    }
    Ok(time)
}

/// A duration as a whole number with a unit: `ms`, `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}`: add a unit (ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a whole number and a unit, like 90s or 1h"))?;
    let duration = match unit {
        "ms" => chrono::Duration::try_milliseconds(n),
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        other => return Err(format!("`{text}`: unknown unit `{other}` (ms, s, m, h, d)")),
    };
    duration.ok_or_else(|| format!("`{text}`: too long"))
}

#[derive(Debug, Clone, Parser)]
pub struct ImportDropListArgs {
    /// The file: a HEXONET zip of `domain;YYYY-MM-DD HH:MM:SS` lines, or plain CSV.
    pub file: std::path::PathBuf,
    /// The file's format; guessed from the content when omitted.
    #[arg(long, value_enum)]
    pub format: Option<DropListFormat>,
    /// The file is the whole list for the zones it contains: listed names of those zones
    /// missing from it left the list before their drop (restored).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DropListFormat {
    HexonetZip,
    Csv,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            clock: ClockKind::System,
            clock_start: None,
            registry_url: None,
            drop_list_interval: 15,
            scheduler_interval: 10,
            registry_login: None,
            auction_currency: "USD".into(),
            auction_opening_bid: "10.00".into(),
            auction_increments: "5.00".into(),
            catcher_registrars: Vec::new(),
            http_listen: DEFAULT_HTTP_LISTEN.into(),
            test_database_url: "auto".into(),
            test_listen: DEFAULT_TEST_LISTEN.into(),
            test_registry_url: None,
            test_catcher_registrars: Vec::new(),
            test_registry_login: None,
            test_clock: None,
            catch_grace: chrono::Duration::hours(1),
            catcher_interval_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockKind {
    System,
    Manual,
    /// Follow the registry simulator's virtual clock (needs --registry-url): one clock
    /// drives both services, and each tick runs a scheduler pass before it is acknowledged.
    Registry,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(words: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("backorder-svc")
            .chain(words.iter().copied())
            .map(std::ffi::OsString::from);
        Cli::try_parse_from(with_default_command(argv))
    }

    #[test]
    fn serve_is_the_default_command() {
        let Command::Serve(args) = parsed(&["--clock", "manual"]).unwrap().into_command() else {
            panic!("serve expected");
        };
        assert_eq!(args.clock, ClockKind::Manual);
        let cli = parsed(&["--database-url", "sqlite://x.db", "--listen", "127.0.0.1:1"]).unwrap();
        assert_eq!(cli.database_url, "sqlite://x.db");
        let Command::Serve(args) = cli.into_command() else {
            panic!("serve expected");
        };
        assert_eq!(args.listen.port(), 1);
        // The spelled-out forms still work, the global flag before or after the command.
        for words in [
            &[
                "--database-url",
                "sqlite://x.db",
                "serve",
                "--clock",
                "manual",
            ][..],
            &[
                "serve",
                "--clock",
                "manual",
                "--database-url",
                "sqlite://x.db",
            ][..],
            &["--database-url=sqlite://x.db", "serve"][..],
            &[][..],
        ] {
            assert!(
                matches!(parsed(words).unwrap().command, Some(Command::Serve(_))),
                "{words:?}"
            );
        }
        assert!(matches!(
            parsed(&["create-operator-key"]).unwrap().command,
            Some(Command::CreateOperatorKey { .. })
        ));
        assert!(parsed(&["--clock", "sundial"]).is_err());
    }

    #[test]
    fn login_commands() {
        let cli = parsed(&[
            "--database-url",
            "sqlite://x.db",
            "login",
            "set",
            "--account",
            "42",
            "--login",
            "john",
            "--role",
            "ro",
            "--read-only",
        ])
        .unwrap();
        let Some(Command::Login(LoginCommand::Set(args))) = cli.command else {
            panic!("login set expected");
        };
        assert_eq!(args.target.account.0, 42);
        assert_eq!(args.target.role.as_deref(), Some("ro"));
        assert!(args.read_only && !args.password_stdin);
        assert!(matches!(
            parsed(&[
                "login",
                "delete",
                "--account",
                "accounts/7",
                "--login",
                "john"
            ])
            .unwrap()
            .command,
            Some(Command::Login(LoginCommand::Delete(_)))
        ));
        assert!(parsed(&["login", "set", "--account", "0", "--login", "john"]).is_err());
        // No way to give the password as an argument.
        assert!(
            parsed(&[
                "login",
                "set",
                "--account",
                "1",
                "--login",
                "j",
                "--password",
                "x"
            ])
            .is_err()
        );
    }

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("1h"), Ok(chrono::Duration::hours(1)));
        assert_eq!(parse_duration(" 90s"), Ok(chrono::Duration::seconds(90)));
        assert!(parse_duration("9223372036854775807d").is_err(), "no panic");
        assert!(parse_clock_start("2026-12-01T00:00:00Z").is_ok());
        assert!(parse_clock_start("+262000-01-01T00:00:00Z").is_err());
        assert_eq!(
            parse_duration("250ms"),
            Ok(chrono::Duration::milliseconds(250))
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn catcher_flags() {
        let cli = Cli::try_parse_from([
            "backorder-svc",
            "serve",
            "--catcher-registrar",
            "ours-1:pw:2:5",
            "--catcher-registrar",
            "ours-2:pw",
            "--catch-grace",
            "30m",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve expected");
        };
        assert_eq!(args.catcher_registrars.len(), 2);
        assert_eq!(args.catcher_registrars[0].sessions, 2);
        assert_eq!(args.catcher_registrars[1].creates_per_second, 1);
        assert_eq!(args.catch_grace, chrono::Duration::minutes(30));
        assert_eq!(args.catcher_interval_ms, 250);
    }

    #[test]
    fn the_test_environment_lives_beside_the_live_one() {
        assert_eq!(
            beside("sqlite://data/backorder.db").unwrap(),
            "sqlite://data/backorder-ote.db"
        );
        assert_eq!(
            beside("sqlite://backorder.db?mode=rwc").unwrap(),
            "sqlite://backorder-ote.db?mode=rwc"
        );
        assert_eq!(
            beside("postgres://postgres@127.0.0.1:5432/backorder").unwrap(),
            "postgres://postgres@127.0.0.1:5432/backorder_ote"
        );
        assert!(beside("postgres://127.0.0.1:5432").is_err());
        assert!(beside("sqlite::memory:").is_err());
        let args = ServeArgs {
            test_database_url: "sqlite://x.db".into(),
            ..ServeArgs::default()
        };
        assert!(args.test_database("sqlite://x.db").is_err());
        let off = ServeArgs {
            test_database_url: "off".into(),
            http_listen: "off".into(),
            ..ServeArgs::default()
        };
        assert_eq!(off.test_database("sqlite://x.db").unwrap(), None);
        assert_eq!(off.http_address().unwrap(), None);
        assert_eq!(
            ServeArgs::default().http_address().unwrap().unwrap().port(),
            50080
        );
    }

    #[test]
    fn the_test_environment_gets_its_own_registry_and_clock() {
        let live = "sqlite://x.db";
        let error = |words: &[&str]| {
            let Command::Serve(args) = parsed(words).unwrap().into_command() else {
                panic!("serve expected");
            };
            args.test_settings(live).unwrap_err().to_string()
        };
        assert!(
            error(&["--test-catcher-registrar", "ours-1:pw"])
                .contains("--test-catcher-registrar needs --test-registry-url"),
        );
        assert!(error(&["--test-clock", "registry"]).contains("--test-clock registry needs"));
        assert!(
            error(&[
                "--registry-url",
                "http://127.0.0.1:1",
                "--test-registry-url",
                "http://127.0.0.1:1"
            ])
            .contains("must not race at live's registry")
        );
        assert!(
            error(&[
                "--test-database-url",
                "off",
                "--test-registry-url",
                "http://127.0.0.1:2"
            ])
            .contains("turns off")
        );
        let Command::Serve(args) = parsed(&[
            "--clock",
            "manual",
            "--test-registry-url",
            "http://127.0.0.1:2",
            "--test-catcher-registrar",
            "ours-1:pw",
        ])
        .unwrap()
        .into_command() else {
            panic!("serve expected");
        };
        let test = args.test_settings(live).unwrap().unwrap();
        assert_eq!(test.environment, EnvironmentKind::Test);
        assert_eq!(test.database_url, "sqlite://x-ote.db");
        assert_eq!(test.clock, ClockKind::Manual, "its own manual clock");
        let registry = test.registry.unwrap();
        assert_eq!(registry.url, "http://127.0.0.1:2");
        assert_eq!(registry.catcher_registrars.len(), 1);
        let live_settings = args.live_settings(live).unwrap();
        assert!(live_settings.registry.is_none(), "live has none of it");
    }
}
