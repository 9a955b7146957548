-- SQLite twin of ../postgres/0007_logins.sql: only the id column type differs.
-- Logins with passwords for the HEXONET-compatible command API (docs/logins.md), and the
-- sessions started with them. Times are microseconds since the Unix epoch (UTC).

-- One row per login: the account's main login (`role` NULL) or a role login (`login!role`).
-- Names are stored lower-cased (logins are case-insensitive); every role of a login name
-- belongs to the same account as the name (checked by the store when a login is set).
CREATE TABLE account_logins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL CHECK (length(login) BETWEEN 3 AND 64 AND login = lower(login)),
    role          TEXT    CHECK (role IS NULL OR (length(role) BETWEEN 1 AND 64 AND role = lower(role))),
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    access        TEXT    NOT NULL CHECK (access IN ('full', 'read_only')),
    -- argon2id, a PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`); never the password.
    password_hash TEXT    NOT NULL,
    -- Failed logins in a row; from the third one on the login is refused until blocked_until.
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    blocked_until BIGINT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
-- (login, role) is the key; a NULL role (the main login) counts as one value.
CREATE UNIQUE INDEX account_logins_by_name ON account_logins (login, COALESCE(role, ''));
CREATE INDEX account_logins_by_account ON account_logins (account_id);

-- Command API sessions (`StartSession`): the secret is shown once; only its SHA-256 is kept.
-- A session ends with its login (ON DELETE CASCADE), by `EndSession`, or when idle past
-- `expires_at` (moved forward by `idle_timeout` seconds on every use).
CREATE TABLE command_sessions (
    id_hash      TEXT    PRIMARY KEY,
    login_id     BIGINT  NOT NULL REFERENCES account_logins (id) ON DELETE CASCADE,
    -- `user` or `user!role`, as the caller's credential.
    login        TEXT    NOT NULL,
    account_id   BIGINT  NOT NULL REFERENCES accounts (id),
    access       TEXT    NOT NULL CHECK (access IN ('full', 'read_only')),
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    idle_timeout INTEGER NOT NULL CHECK (idle_timeout > 0)
);
CREATE INDEX command_sessions_by_expiry ON command_sessions (expires_at);
CREATE INDEX command_sessions_by_login ON command_sessions (login_id);
