-- Backorders (spec/lifecycle.md). An order's drop time is not copied here: it is read from
-- drop_list by domain, so a changed drop time moves every open order at once, and a domain
-- that left the list (removed_at) sends its orders back to sleep.
CREATE TABLE backorders (
    id               BIGSERIAL PRIMARY KEY,
    account_id       BIGINT  NOT NULL REFERENCES accounts (id),
    domain           TEXT    NOT NULL,  -- A-label, lower case
    domain_unicode   TEXT    NOT NULL,
    tld              TEXT    NOT NULL,  -- the catalog entry the order is placed under
    class            TEXT    NOT NULL CHECK (class IN ('BACKORDER', 'LITEBACKORDER')),
    status           TEXT    NOT NULL CHECK (status IN ('REQUESTED', 'ACTIVE', 'PROCESSING',
                         'SUCCESSFUL', 'AUCTION_PENDING', 'AUCTION_WON', 'AUCTION_LOST', 'FAILED', 'CANCELLED')),
    failure_reason   TEXT CHECK ((status = 'FAILED') = (failure_reason IS NOT NULL)),
    price            BIGINT  NOT NULL CHECK (price > 0),
    currency         TEXT    NOT NULL,
    -- The pending hold while the status holds funds (ledger invariant 4).
    hold_id          BIGINT REFERENCES transfers (id),
    -- Holds placed so far: scheduler request ids are "order:{id}:hold:{n}".
    holds_placed     INTEGER NOT NULL DEFAULT 0,
    post_drop        BOOLEAN NOT NULL DEFAULT FALSE,  -- a lite "daily deal" placed after finalization
    owner_contact    TEXT    NOT NULL DEFAULT '',
    admin_contact    TEXT    NOT NULL DEFAULT '',
    tech_contact     TEXT    NOT NULL DEFAULT '',
    billing_contact  TEXT    NOT NULL DEFAULT '',
    auth_code_wish   TEXT    NOT NULL DEFAULT '',
    extensions       TEXT    NOT NULL DEFAULT '',     -- "KEY=value" lines
    client_reference TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    CHECK ((status IN ('ACTIVE', 'PROCESSING', 'AUCTION_PENDING')) = (hold_id IS NOT NULL))
);
CREATE INDEX backorders_by_account ON backorders (account_id, id);
CREATE INDEX backorders_by_domain ON backorders (domain, status);
CREATE INDEX backorders_open ON backorders (status, id) WHERE status IN ('REQUESTED', 'ACTIVE');
CREATE INDEX audit_by_account ON audit_log (account_id, id);
