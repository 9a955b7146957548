//! `backorder-svc [serve] [FLAGS]`, `backorder-svc create-operator-key`,
//! `backorder-svc import-drop-list`, `backorder-svc login set|delete|list` and
//! `backorder-svc test-account open`.

use backorder_svc::clock::Clock;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::config::{
    Cli, Command, DropListFormat, ImportDropListArgs, LOGIN_PASSWORD_ENV, LoginCommand,
    TestAccountCommand,
};
use backorder_svc::test_environment::cli::Password;
use backorder_svc::{app, auth, bootstrap, catalog, drop_list, server, store, test_environment};
use std::io::IsTerminal;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    // Colour only on a terminal (and not with NO_COLOR): redirected logs stay plain text.
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse_with_default_command();
    // An error is one line (its causes joined), not a backtrace.
    if let Err(error) = run(cli).await {
        eprintln!("backorder-svc: {error:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let database_url = cli.database_url.clone();
    match cli.into_command() {
        Command::Serve(args) => {
            let listener = tokio::net::TcpListener::bind(args.listen).await?;
            let hooks = app::Hooks {
                print_operator_key: true,
                ..app::Hooks::default()
            };
            app::serve(
                &database_url,
                args,
                listener,
                hooks,
                server::shutdown_signal(),
            )
            .await
        }
        Command::ImportDropList(args) => import_drop_list(&database_url, args).await,
        Command::CreateOperatorKey { label } => {
            let store = store::connect(&database_url).await?;
            let clock: SharedClock = Arc::new(SystemClock);
            let secret = bootstrap::create_operator_key(&store, &clock, &label).await?;
            println!("{secret}");
            Ok(())
        }
        Command::Login(command) => {
            // The password is read before connecting, so a prompt is not held up by it.
            let password = match &command {
                LoginCommand::Set(args) => Some(auth::cli::read_password(
                    args.password_stdin,
                    std::env::var(LOGIN_PASSWORD_ENV).ok(),
                    &mut std::io::stdin().lock(),
                )?),
                _ => None,
            };
            let store = store::connect(&database_url).await?;
            let output = auth::cli::run(&store, command, password, SystemClock.now()).await?;
            print!("{output}");
            Ok(())
        }
        Command::TestAccount(TestAccountCommand::Open(args)) => {
            let env = std::env::var(LOGIN_PASSWORD_ENV).ok();
            let password = if args.password_stdin || env.is_some() {
                Password::Given(auth::cli::read_password(
                    args.password_stdin,
                    env,
                    &mut std::io::stdin().lock(),
                )?)
            } else {
                Password::Generate
            };
            let output = test_environment::cli::open(&database_url, args, password).await?;
            print!("{output}");
            Ok(())
        }
    }
}

/// `import-drop-list FILE`: the catalog must exist for the zones' finalization leads.
async fn import_drop_list(database_url: &str, args: ImportDropListArgs) -> anyhow::Result<()> {
    let store = store::connect(database_url).await?;
    let (tlds, prices) = catalog::parse(catalog::DEFAULT_CATALOG)?;
    store.seed_catalog_once(&tlds, &prices).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let format = args.format.map(|f| match f {
        DropListFormat::HexonetZip => drop_list::FileFormat::HexonetZip,
        DropListFormat::Csv => drop_list::FileFormat::Csv,
    });
    let report = drop_list::cli::import_file(&store, &clock, &args.file, format, args.full).await?;
    print!("{}", drop_list::cli::summary(&report));
    Ok(())
}
