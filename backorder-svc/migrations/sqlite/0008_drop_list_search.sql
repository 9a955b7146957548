-- Keyword search served by an index (docs/drop-list.md, "How it runs"). SQLite twin of
-- ../postgres/0008_drop_list_search.sql.
--
-- 1. drop_list gets an INTEGER PRIMARY KEY (`id`). The FTS5 index below refers to rows by
--    rowid, and an implicit rowid may be renumbered by VACUUM; an INTEGER PRIMARY KEY is the
--    rowid and never changes. No table references drop_list, so it is rebuilt in place
--    (the documented way to change a table's key: create, copy, drop, rename).
CREATE TABLE drop_list_new (
    id              INTEGER PRIMARY KEY,
    domain          TEXT    NOT NULL UNIQUE,  -- A-label, lower case
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
    removed_at      BIGINT,               -- left the list before its drop (restored)
    drop_window_end BIGINT                -- end of the published release window
);
INSERT INTO drop_list_new (domain, domain_unicode, label, label_rev, zone, drop_time,
    finalization_at, length, digits, hyphens, non_ascii, idn, score, shuffle, first_seen_at,
    updated_at, removed_at, drop_window_end)
SELECT domain, domain_unicode, label, label_rev, zone, drop_time, finalization_at, length,
    digits, hyphens, non_ascii, idn, score, shuffle, first_seen_at, updated_at, removed_at,
    drop_window_end
FROM drop_list ORDER BY domain;
DROP TABLE drop_list;
ALTER TABLE drop_list_new RENAME TO drop_list;
CREATE INDEX drop_list_by_drop_time ON drop_list (drop_time);
CREATE INDEX drop_list_by_finalization ON drop_list (finalization_at);
-- BEGIN and END keywords become range scans on these (binary collation = code point order).
CREATE INDEX drop_list_by_label ON drop_list (label);
CREATE INDEX drop_list_by_label_rev ON drop_list (label_rev);

-- 2. ANY keywords: an FTS5 index of the label's trigrams (external content: the labels stay
--    in drop_list only). `case_sensitive 1` indexes the code points as stored (labels and
--    keywords are lower case already), `detail='none'` keeps only which rows hold a trigram
--    (the smallest index; the query ANDs a keyword's trigrams and rechecks the keyword on the
--    row, so the index only has to find a superset).
CREATE VIRTUAL TABLE drop_list_fts USING fts5 (
    label,
    content = 'drop_list',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = 'none'
);
INSERT INTO drop_list_fts (drop_list_fts) VALUES ('rebuild');

-- Kept in sync by triggers, so every writer of drop_list (the import, tests and benches
-- writing rows directly) keeps the index right. A row's label is a function of its domain,
-- so upserts normally leave it alone and the update trigger does nothing.
CREATE TRIGGER drop_list_fts_insert AFTER INSERT ON drop_list BEGIN
    INSERT INTO drop_list_fts (rowid, label) VALUES (new.id, new.label);
END;
CREATE TRIGGER drop_list_fts_delete AFTER DELETE ON drop_list BEGIN
    INSERT INTO drop_list_fts (drop_list_fts, rowid, label) VALUES ('delete', old.id, old.label);
END;
CREATE TRIGGER drop_list_fts_update AFTER UPDATE OF label, id ON drop_list
WHEN old.label IS NOT new.label OR old.id IS NOT new.id BEGIN
    INSERT INTO drop_list_fts (drop_list_fts, rowid, label) VALUES ('delete', old.id, old.label);
    INSERT INTO drop_list_fts (rowid, label) VALUES (new.id, new.label);
END;
