-- SQLite twin of ../postgres/0001_foundation.sql: only the id column type differs.
-- Foundation: accounts, API keys, the ledger (two-phase transfers), idempotency, the audit
-- log, the TLD catalog and prices. Times are microseconds since the Unix epoch (UTC), the same
-- in both backends, so comparisons and ordering never depend on text formats.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    display_name TEXT   NOT NULL,
    currency     TEXT   NOT NULL CHECK (length(currency) = 3),
    price_tier   TEXT   NOT NULL,
    state        TEXT   NOT NULL CHECK (state IN ('active', 'suspended', 'closed')),
    created_at   BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    role        TEXT   NOT NULL CHECK (role IN ('account', 'operator')),
    account_id  BIGINT REFERENCES accounts (id),
    label       TEXT   NOT NULL,
    prefix      TEXT   NOT NULL,
    secret_hash TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    CHECK ((role = 'account') = (account_id IS NOT NULL))
);

-- One row per ledger account: client accounts and the operator's book accounts per currency.
-- The four counters follow the two-phase transfer model; a client may never spend more than
-- it has, enforced here and not only in code (spec/ledger.md, invariant 2).
CREATE TABLE ledger_accounts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT   NOT NULL UNIQUE,
    kind              TEXT   NOT NULL CHECK (kind IN ('client', 'cash', 'revenue', 'auction_proceeds')),
    currency          TEXT   NOT NULL,
    client_account_id BIGINT UNIQUE REFERENCES accounts (id),
    debits_pending    BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted     BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending   BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted    BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    CONSTRAINT client_available_not_negative
        CHECK (kind <> 'client' OR debits_pending + debits_posted <= credits_posted),
    CHECK ((kind = 'client') = (client_account_id IS NOT NULL))
);

-- The journal: never updated, never deleted. A hold is resolved by exactly one capture or
-- release (the unique index on pending_id), so a second resolution is refused by the database.
CREATE TABLE transfers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT   NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'adjustment', 'hold', 'capture', 'release', 'auction_payment')),
    debit_account_id  BIGINT NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
    amount            BIGINT NOT NULL CHECK (amount >= 0),
    currency          TEXT   NOT NULL,
    pending_id        BIGINT REFERENCES transfers (id),
    backorder_id      BIGINT,
    request_id        TEXT,
    memo              TEXT   NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    CHECK ((kind IN ('capture', 'release')) = (pending_id IS NOT NULL)),
    CHECK (kind = 'capture' OR kind = 'release' OR amount > 0)
);
CREATE UNIQUE INDEX transfers_one_resolution_per_hold ON transfers (pending_id);
CREATE INDEX transfers_by_debit ON transfers (debit_account_id, id);
CREATE INDEX transfers_by_credit ON transfers (credit_account_id, id);
CREATE INDEX transfers_by_backorder ON transfers (backorder_id) WHERE backorder_id IS NOT NULL;

-- Idempotency: the first outcome of every (caller scope, request id), with a fingerprint of
-- the request so a reuse with another payload is detected.
CREATE TABLE idempotency_keys (
    scope         TEXT   NOT NULL,
    request_id    TEXT   NOT NULL,
    operation     TEXT   NOT NULL,
    fingerprint   TEXT   NOT NULL,
    outcome       TEXT   NOT NULL CHECK (outcome IN ('ok', 'error')),
    result_ref    TEXT   NOT NULL DEFAULT '',
    error_code    TEXT   NOT NULL DEFAULT '',
    error_message TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    account_id   BIGINT,
    backorder_id BIGINT,
    domain       TEXT,
    old_status   TEXT,
    new_status   TEXT,
    transfer_id  BIGINT REFERENCES transfers (id),
    message      TEXT   NOT NULL
);
CREATE INDEX audit_by_backorder ON audit_log (backorder_id, id) WHERE backorder_id IS NOT NULL;
CREATE INDEX audit_by_domain ON audit_log (domain, id) WHERE domain IS NOT NULL;

CREATE TABLE tlds (
    name                    TEXT PRIMARY KEY,
    first_come_first_served BOOLEAN NOT NULL,
    third_level_allowed     BOOLEAN NOT NULL,
    required_extensions     TEXT    NOT NULL,
    classes                 TEXT    NOT NULL,
    finalization_lead_secs  BIGINT  NOT NULL CHECK (finalization_lead_secs >= 0),
    lock_lead_secs          BIGINT  NOT NULL CHECK (lock_lead_secs >= 0),
    daily_deals             BOOLEAN NOT NULL
);

CREATE TABLE prices (
    price_tier TEXT   NOT NULL,
    tld        TEXT   NOT NULL,
    class      TEXT   NOT NULL CHECK (class IN ('BACKORDER', 'LITEBACKORDER')),
    currency   TEXT   NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (price_tier, tld, class, currency)
);
