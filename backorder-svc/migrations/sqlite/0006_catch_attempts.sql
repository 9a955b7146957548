-- Write-ahead catch attempts (docs/reliability.md): a create is committed here before it
-- leaves for the registry, and its answer after. A row without an answer means "a create
-- may have reached the registry": the catcher asks the registry (Info) before it decides
-- the drop, so a crash between a winning create and the catch's commit never loses a name.
CREATE TABLE catch_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    domain      TEXT    NOT NULL,
    drop_time   BIGINT  NOT NULL,   -- with the domain, the drop (as in `catches`)
    registrar   TEXT    NOT NULL,   -- the accreditation the create goes out on
    sent_at     BIGINT  NOT NULL,   -- when it was about to be sent (injected clock)
    -- NULL: no answer recorded yet. WON, EXISTS, RATE_LIMITED, REFUSED: the registry's answer.
    -- NOT_SENT: our own limiter stopped it before sending. RECONCILED: settled by the
    -- registry's Info after the answer was lost (or by the drop's recorded result).
    answer      TEXT CHECK (answer IN ('WON', 'EXISTS', 'RATE_LIMITED', 'REFUSED', 'NOT_SENT', 'RECONCILED')),
    answered_at BIGINT,
    CHECK ((answer IS NULL) = (answered_at IS NULL))
);
CREATE INDEX catch_attempts_by_drop ON catch_attempts (domain, drop_time);
CREATE INDEX catch_attempts_open ON catch_attempts (domain, drop_time) WHERE answer IS NULL;

-- Registry sessions the catcher holds, so a restart after a crash takes its sessions back
-- instead of leaving them to time out at the registry (they count against its limit).
CREATE TABLE registry_sessions (
    registrar   TEXT    NOT NULL,
    slot        INTEGER NOT NULL CHECK (slot >= 0),
    token       TEXT    NOT NULL,
    opened_at   BIGINT  NOT NULL,
    PRIMARY KEY (registrar, slot)
);
