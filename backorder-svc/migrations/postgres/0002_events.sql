-- The per-account event stream (spec/lifecycle.md, "Notifications"). The id is the resume
-- cursor; event-writing transactions serialize on an advisory lock so ids become visible in
-- order and a reader that resumes after a cursor never skips an event committed later.
CREATE TABLE events (
    id             BIGSERIAL PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    type           TEXT   NOT NULL,
    at             BIGINT NOT NULL,
    backorder_id   BIGINT,
    domain         TEXT,
    auction_id     BIGINT,
    old_status     TEXT,
    new_status     TEXT,
    failure_reason TEXT,
    message        TEXT   NOT NULL DEFAULT '',
    amount         BIGINT,
    currency       TEXT,
    alert_id       BIGINT,
    -- Events that must happen at most once carry a key ("low_balance:42", "alert:7:x.com").
    dedupe_key     TEXT UNIQUE
);
CREATE INDEX events_by_account ON events (account_id, id);
