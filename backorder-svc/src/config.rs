//! Command line and environment configuration (clap with env fallbacks; laptop defaults).

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "backorder-svc",
    version,
    about = "Domain backorder service (gRPC)"
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API (the default).
    Serve(ServeArgs),
    /// Create another operator API key and print it once.
    CreateOperatorKey {
        /// A label to recognise the key by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
}

#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BACKORDER_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Time source: the system clock, or a manual clock moved by OperatorService calls.
    #[arg(long, env = "BACKORDER_CLOCK", value_enum, default_value_t = ClockKind::System)]
    pub clock: ClockKind,

    /// Start time of the manual clock (RFC 3339); defaults to the current time.
    #[arg(long, env = "BACKORDER_CLOCK_START")]
    pub clock_start: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            clock: ClockKind::System,
            clock_start: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockKind {
    System,
    Manual,
}
