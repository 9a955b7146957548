//! `backorder-svc login set|delete|list`: an account's command API logins from the shell.

use crate::config::{LOGIN_PASSWORD_ENV, LoginCommand};
use crate::domain::account::Access;
use crate::store::SharedStore;
use chrono::{DateTime, Utc};
use std::io::BufRead;

/// The actor the audit log names for these commands.
const ACTOR: &str = "cli";

/// The password for `login set`: BACKORDER_LOGIN_PASSWORD when it is set (`env`) and
/// `--password-stdin` is not given, otherwise the first line of `stdin` (its line ending
/// dropped, nothing else).
pub fn read_password(
    from_stdin: bool,
    env: Option<String>,
    stdin: &mut dyn BufRead,
) -> anyhow::Result<String> {
    if !from_stdin && let Some(password) = env {
        return Ok(password);
    }
    let mut line = String::new();
    stdin.read_line(&mut line)?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    if password.is_empty() {
        anyhow::bail!(
            "password: none given; write it to standard input or set {LOGIN_PASSWORD_ENV}"
        );
    }
    Ok(password.to_string())
}

/// Runs the command and returns what to print. `password` is needed by `set` only.
pub async fn run(
    store: &SharedStore,
    command: LoginCommand,
    password: Option<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    match command {
        LoginCommand::Set(args) => {
            let password = password.ok_or_else(|| anyhow::anyhow!("password: none given"))?;
            let access = if args.read_only {
                Access::ReadOnly
            } else {
                Access::Full
            };
            let set = super::set_login(
                store,
                args.target.account,
                &args.target.login,
                args.target.role.as_deref(),
                access,
                &password,
                ACTOR,
                now,
            )
            .await?;
            Ok(format!(
                "{} login {} for account {} ({} access)\n",
                if set.created { "created" } else { "replaced" },
                set.login.display_name(),
                set.login.account_id,
                set.login.access.as_str()
            ))
        }
        LoginCommand::Delete(target) => {
            super::delete_login(
                store,
                target.account,
                &target.login,
                target.role.as_deref(),
                ACTOR,
                now,
            )
            .await?;
            Ok("deleted\n".to_string())
        }
        LoginCommand::List { account } => {
            let logins = super::list_logins(store, account).await?;
            Ok(logins
                .iter()
                .map(|l| {
                    let blocked = l
                        .blocked_until
                        .filter(|until| *until > now)
                        .map(|until| format!(", blocked until {}", until.to_rfc3339()))
                        .unwrap_or_default();
                    format!(
                        "{}\t{}\tfailures {}{blocked}\n",
                        l.display_name(),
                        l.access.as_str(),
                        l.failures
                    )
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_come_from_the_environment_or_the_first_line() {
        let mut input: &[u8] = b"from stdin\r\nsecond line\n";
        assert_eq!(
            read_password(false, Some("from env".into()), &mut input).unwrap(),
            "from env"
        );
        assert_eq!(
            read_password(true, Some("from env".into()), &mut input).unwrap(),
            "from stdin"
        );
        let mut last: &[u8] = b" spaces kept ";
        assert_eq!(
            read_password(false, None, &mut last).unwrap(),
            " spaces kept "
        );
        let mut empty: &[u8] = b"";
        assert!(read_password(false, None, &mut empty).is_err());
    }
}
