// The command API's logins and sessions, shared by both backends: `include!`d into
// `sqlite.rs` and `postgres.rs` after `sql.rs`. A child module, like `catching_sql.rs`, so its
// imports never clash with the files before it; `use super::*` reaches `Tx`, `DbRow`,
// `SqlStore`, `fetch_account` and `insert_audit`. Format with
// `rustfmt --edition 2024 backorder-svc/src/store/logins_sql.rs`.

mod logins_sql {
    use super::*;
    use crate::domain::account::Access;
    use crate::store::logins::{
        CommandSession, LoginFailures, LoginRecord, LoginStore, LoginSummary, LoginUpsert,
        NewCommandSession, NewLogin, Slowdown,
    };

    macro_rules! login_columns {
        () => {
            "l.id, l.login, l.role, l.account_id, l.access, l.failures, l.blocked_until, \
             l.created_at, l.updated_at"
        };
    }

    macro_rules! session_columns {
        () => {
            "s.id_hash, s.login_id, s.login, s.account_id, s.access, s.created_at, \
             s.expires_at, s.idle_timeout, a.state AS account_state"
        };
    }

    fn access_of(text: &str) -> StoreResult<Access> {
        Access::from_db(text).ok_or_else(|| corrupt(format!("login access {text:?}")))
    }

    fn state_of(text: &str) -> StoreResult<AccountState> {
        AccountState::from_db(text).ok_or_else(|| corrupt(format!("account state {text:?}")))
    }

    fn non_negative(row: &DbRow, column: &str) -> StoreResult<u32> {
        let n: i32 = row.try_get(column)?;
        u32::try_from(n).map_err(|_| corrupt(format!("{column} {n}")))
    }

    fn summary_from_row(row: &DbRow) -> StoreResult<LoginSummary> {
        Ok(LoginSummary {
            id: row.try_get("id")?,
            login: row.try_get("login")?,
            role: row.try_get("role")?,
            account_id: AccountId(row.try_get("account_id")?),
            access: access_of(&row.try_get::<String, _>("access")?)?,
            failures: non_negative(row, "failures")?,
            blocked_until: row
                .try_get::<Option<i64>, _>("blocked_until")?
                .map(from_micros),
            created_at: from_micros(row.try_get("created_at")?),
            updated_at: from_micros(row.try_get("updated_at")?),
        })
    }

    fn session_from_row(row: &DbRow) -> StoreResult<CommandSession> {
        Ok(CommandSession {
            id_hash: row.try_get("id_hash")?,
            login_id: row.try_get("login_id")?,
            login: row.try_get("login")?,
            account_id: AccountId(row.try_get("account_id")?),
            account_state: state_of(&row.try_get::<String, _>("account_state")?)?,
            access: access_of(&row.try_get::<String, _>("access")?)?,
            created_at: from_micros(row.try_get("created_at")?),
            expires_at: from_micros(row.try_get("expires_at")?),
            idle_timeout_secs: non_negative(row, "idle_timeout")?,
        })
    }

    /// The login row (`role` None: the main login), in the transaction.
    async fn login_in(tx: &mut Tx, login: &str, role: Option<&str>) -> StoreResult<Option<DbRow>> {
        Ok(sqlx::query(concat!(
            "SELECT ",
            login_columns!(),
            " FROM account_logins l WHERE l.login = $1 AND COALESCE(l.role, '') = $2"
        ))
        .bind(login)
        .bind(role.unwrap_or(""))
        .fetch_optional(&mut **tx)
        .await?)
    }

    impl SqlStore {
        async fn upsert_login_once(
            &self,
            new: &NewLogin,
            actor: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<LoginUpsert> {
            let mut tx = self.begin_write().await?;
            let Some(account) = fetch_account(&mut tx, new.account_id.0).await? else {
                return Ok(LoginUpsert::AccountNotFound);
            };
            if account.state == AccountState::Closed {
                return Ok(LoginUpsert::AccountClosed);
            }
            // A login name and all its roles belong to one account.
            let owner = sqlx::query(
                "SELECT account_id FROM account_logins WHERE login = $1 AND account_id <> $2 \
                 LIMIT 1",
            )
            .bind(&new.login)
            .bind(new.account_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = owner {
                return Ok(LoginUpsert::Taken {
                    owner: AccountId(row.try_get("account_id")?),
                });
            }
            let existing = login_in(&mut tx, &new.login, new.role.as_deref()).await?;
            let at = to_micros(now);
            let (row, replaced) = match existing {
                Some(row) => {
                    let id: i64 = row.try_get("id")?;
                    sqlx::query(
                        "UPDATE account_logins SET access = $2, password_hash = $3, \
                         failures = 0, blocked_until = NULL, updated_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(new.access.as_str())
                    .bind(&new.password_hash)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    // A new password (or access) ends the sessions started with the old one.
                    sqlx::query("DELETE FROM command_sessions WHERE login_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let row = login_in(&mut tx, &new.login, new.role.as_deref())
                        .await?
                        .ok_or_else(|| corrupt("a login vanished inside its transaction"))?;
                    (row, true)
                }
                None => {
                    let row = sqlx::query(
                        "INSERT INTO account_logins (login, role, account_id, access, \
                         password_hash, failures, blocked_until, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 0, NULL, $6, $6) RETURNING id",
                    )
                    .bind(&new.login)
                    .bind(new.role.as_deref())
                    .bind(new.account_id.0)
                    .bind(new.access.as_str())
                    .bind(&new.password_hash)
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await?;
                    let id: i64 = row.try_get("id")?;
                    let row = sqlx::query(concat!(
                        "SELECT ",
                        login_columns!(),
                        " FROM account_logins l WHERE l.id = $1"
                    ))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    (row, false)
                }
            };
            let summary = summary_from_row(&row)?;
            let message = format!(
                "login {} {}: {} access",
                summary.display_name(),
                if replaced {
                    "password replaced"
                } else {
                    "created"
                },
                summary.access.as_str()
            );
            insert_audit(&mut tx, now, actor, Some(new.account_id.0), None, &message).await?;
            tx.commit().await?;
            Ok(if replaced {
                LoginUpsert::Replaced(summary)
            } else {
                LoginUpsert::Created(summary)
            })
        }
    }

    #[async_trait]
    impl LoginStore for SqlStore {
        async fn upsert_login(
            &self,
            login: NewLogin,
            actor: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<LoginUpsert> {
            match self.upsert_login_once(&login, actor, now).await {
                // Two callers created the same new login at once (PostgreSQL): the second
                // finds it now and replaces it.
                Err(StoreError::Database(error)) if is_unique_violation(&error) => {
                    self.upsert_login_once(&login, actor, now).await
                }
                other => other,
            }
        }

        async fn delete_login(
            &self,
            account_id: AccountId,
            login: &str,
            role: Option<&str>,
            actor: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<bool> {
            let mut tx = self.begin_write().await?;
            let deleted = sqlx::query(
                "DELETE FROM account_logins WHERE login = $1 AND COALESCE(role, '') = $2 \
                 AND account_id = $3",
            )
            .bind(login)
            .bind(role.unwrap_or(""))
            .bind(account_id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted > 0 {
                let name = match role {
                    Some(role) => format!("{login}!{role}"),
                    None => login.to_string(),
                };
                let message = format!("login {name} deleted");
                insert_audit(&mut tx, now, actor, Some(account_id.0), None, &message).await?;
            }
            tx.commit().await?;
            Ok(deleted > 0)
        }

        async fn find_login(
            &self,
            login: &str,
            role: Option<&str>,
        ) -> StoreResult<Option<LoginRecord>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                login_columns!(),
                ", l.password_hash, a.state AS account_state FROM account_logins l \
                 JOIN accounts a ON a.id = l.account_id \
                 WHERE l.login = $1 AND COALESCE(l.role, '') = $2"
            ))
            .bind(login)
            .bind(role.unwrap_or(""))
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                Ok(LoginRecord {
                    summary: summary_from_row(&row)?,
                    password_hash: row.try_get("password_hash")?,
                    account_state: state_of(&row.try_get::<String, _>("account_state")?)?,
                })
            })
            .transpose()
        }

        async fn list_logins(&self, account_id: AccountId) -> StoreResult<Vec<LoginSummary>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                login_columns!(),
                " FROM account_logins l WHERE l.account_id = $1 \
                 ORDER BY l.login, COALESCE(l.role, '')"
            ))
            .bind(account_id.0)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(summary_from_row).collect()
        }

        async fn record_login_failure(
            &self,
            login_id: i64,
            slowdown: Slowdown,
            now: DateTime<Utc>,
        ) -> StoreResult<LoginFailures> {
            let mut tx = self.begin_write().await?;
            // The row lock (PostgreSQL) or the write lock (SQLite) orders concurrent failures.
            let row = sqlx::query(
                "UPDATE account_logins SET failures = failures + 1 WHERE id = $1 \
                 RETURNING failures, blocked_until",
            )
            .bind(login_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                // Deleted meanwhile: nothing left to slow down.
                return Ok(LoginFailures {
                    failures: 0,
                    blocked_until: None,
                });
            };
            let failures = non_negative(&row, "failures")?;
            let mut blocked_until = row
                .try_get::<Option<i64>, _>("blocked_until")?
                .map(from_micros);
            if let Some(block) = slowdown.block_for(failures) {
                let until = now.checked_add_signed(block).unwrap_or(now);
                // Never shortens a block already running.
                if blocked_until.is_none_or(|current| current < until) {
                    sqlx::query("UPDATE account_logins SET blocked_until = $2 WHERE id = $1")
                        .bind(login_id)
                        .bind(to_micros(until))
                        .execute(&mut *tx)
                        .await?;
                    blocked_until = Some(until);
                }
            }
            tx.commit().await?;
            Ok(LoginFailures {
                failures,
                blocked_until,
            })
        }

        async fn reset_login_failures(
            &self,
            login_id: i64,
            _now: DateTime<Utc>,
        ) -> StoreResult<()> {
            // Written only when there is something to clear: most logins succeed first time.
            sqlx::query(
                "UPDATE account_logins SET failures = 0, blocked_until = NULL \
                 WHERE id = $1 AND (failures <> 0 OR blocked_until IS NOT NULL)",
            )
            .bind(login_id)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn create_command_session(
            &self,
            session: NewCommandSession,
            now: DateTime<Utc>,
        ) -> StoreResult<CommandSession> {
            let at = to_micros(now);
            let idle = i64::from(session.idle_timeout_secs) * 1_000_000;
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO command_sessions (id_hash, login_id, login, account_id, access, \
                 created_at, expires_at, idle_timeout) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&session.id_hash)
            .bind(session.login_id)
            .bind(&session.login)
            .bind(session.account_id.0)
            .bind(session.access.as_str())
            .bind(at)
            .bind(at.saturating_add(idle))
            .bind(i32::try_from(session.idle_timeout_secs).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM command_sessions s JOIN accounts a ON a.id = s.account_id \
                 WHERE s.id_hash = $1"
            ))
            .bind(&session.id_hash)
            .fetch_one(&mut *tx)
            .await?;
            let created = session_from_row(&row)?;
            tx.commit().await?;
            Ok(created)
        }

        async fn find_command_session(&self, id_hash: &str) -> StoreResult<Option<CommandSession>> {
            let row = sqlx::query(concat!(
                "SELECT ",
                session_columns!(),
                " FROM command_sessions s JOIN accounts a ON a.id = s.account_id \
                 WHERE s.id_hash = $1"
            ))
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(session_from_row).transpose()
        }

        async fn touch_command_session(
            &self,
            id_hash: &str,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<DateTime<Utc>>> {
            // The new expiry is `now` plus 1.1 times the timeout (in microseconds: the slack
            // spares the writes of the next uses). The timeout is at most a day, so it stays
            // far from the BIGINT range for any time the clock allows (years 0000 to 9999).
            let row = sqlx::query(
                "UPDATE command_sessions SET expires_at = CASE \
                 WHEN $2 + idle_timeout * CAST(1100000 AS BIGINT) > expires_at \
                 THEN $2 + idle_timeout * CAST(1100000 AS BIGINT) ELSE expires_at END \
                 WHERE id_hash = $1 AND expires_at > $2 RETURNING expires_at",
            )
            .bind(id_hash)
            .bind(to_micros(now))
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| Ok(from_micros(row.try_get("expires_at")?)))
                .transpose()
        }

        async fn delete_command_session(&self, id_hash: &str) -> StoreResult<bool> {
            Ok(
                sqlx::query("DELETE FROM command_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0,
            )
        }

        async fn delete_expired_command_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
            Ok(
                sqlx::query("DELETE FROM command_sessions WHERE expires_at <= $1")
                    .bind(to_micros(now))
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
            )
        }
    }
}
