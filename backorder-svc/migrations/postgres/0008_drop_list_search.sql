-- Keyword search served by an index (docs/drop-list.md, "How it runs"). 0003 created the
-- trigram index only where the server offered pg_trgm; from here on it is required, so every
-- keyword mode (ANY, BEGIN, END of 3+ characters) has an index on every deployment. pg_trgm
-- ships with PostgreSQL's contrib package and is a trusted extension (13+): a user with
-- CREATE on the database may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS drop_list_label_trgm ON drop_list USING gin (label gin_trgm_ops);
