-- The pending-delete list and keyword alerts (docs/drop-list.md). Times are microseconds
-- since the epoch.
CREATE TABLE drop_list (
    domain          TEXT    PRIMARY KEY,  -- A-label, lower case
    domain_unicode  TEXT    NOT NULL,
    label           TEXT    NOT NULL,     -- leftmost label in Unicode: keywords, regexp, length
    label_rev       TEXT    NOT NULL,     -- label reversed (used by the SQLite backend)
    zone            TEXT    NOT NULL,     -- public suffix (PSL)
    drop_time       BIGINT  NOT NULL,
    finalization_at BIGINT  NOT NULL,     -- drop_time - the zone's finalization lead
    length          INTEGER NOT NULL,
    digits          INTEGER NOT NULL,
    hyphens         INTEGER NOT NULL,
    non_ascii       INTEGER NOT NULL,
    idn             BOOLEAN NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 1 AND 10),
    shuffle         BIGINT  NOT NULL,     -- seeded RANDOM order key
    first_seen_at   BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    removed_at      BIGINT                -- left the list before its drop (restored)
);
CREATE INDEX drop_list_by_drop_time ON drop_list (drop_time);
CREATE INDEX drop_list_by_finalization ON drop_list (finalization_at);

-- Keyword queries (LIKE '%kw%', 'kw%', '%kw') use a trigram GIN index. pg_trgm ships with
-- PostgreSQL's contrib package and is a trusted extension (13+); where it is missing the
-- list still works, by sequential scan (docs/drop-list.md).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX drop_list_label_trgm ON drop_list USING gin (label gin_trgm_ops);
    ELSE
        RAISE NOTICE 'pg_trgm is not available: drop-list keyword queries will scan';
    END IF;
END
$$;

CREATE TABLE drop_alerts (
    id                 BIGSERIAL PRIMARY KEY,
    account_id         BIGINT NOT NULL REFERENCES accounts (id),
    keywords           TEXT   NOT NULL,  -- comma-separated (keywords never contain commas)
    keyword_match      TEXT   NOT NULL CHECK (keyword_match IN ('ANY', 'BEGIN', 'END')),
    keyword_catenation TEXT   NOT NULL CHECK (keyword_catenation IN ('AND', 'OR')),
    zones              TEXT   NOT NULL,
    filters            TEXT   NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX drop_alerts_by_account ON drop_alerts (account_id, id);
