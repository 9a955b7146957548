-- The pending-delete list and keyword alerts (docs/drop-list.md). SQLite twin of
-- ../postgres/0003_drop_list.sql. Times are microseconds since the epoch.
CREATE TABLE drop_list (
    domain          TEXT    PRIMARY KEY,  -- A-label, lower case
    domain_unicode  TEXT    NOT NULL,
    label           TEXT    NOT NULL,     -- leftmost label in Unicode: keywords, regexp, length
    label_rev       TEXT    NOT NULL,     -- label reversed: END keywords as an index range
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
-- The searchable list is `removed_at IS NULL AND drop_time > now`: a range on drop_time.
CREATE INDEX drop_list_by_drop_time ON drop_list (drop_time);
CREATE INDEX drop_list_by_finalization ON drop_list (finalization_at);
-- BEGIN and END keywords become range scans on these (binary collation = code point order).
CREATE INDEX drop_list_by_label ON drop_list (label);
CREATE INDEX drop_list_by_label_rev ON drop_list (label_rev);

CREATE TABLE drop_alerts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         BIGINT NOT NULL REFERENCES accounts (id),
    keywords           TEXT   NOT NULL,  -- comma-separated (keywords never contain commas)
    keyword_match      TEXT   NOT NULL CHECK (keyword_match IN ('ANY', 'BEGIN', 'END')),
    keyword_catenation TEXT   NOT NULL CHECK (keyword_catenation IN ('AND', 'OR')),
    zones              TEXT   NOT NULL,
    filters            TEXT   NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX drop_alerts_by_account ON drop_alerts (account_id, id);
