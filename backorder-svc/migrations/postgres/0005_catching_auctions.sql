-- Catching, allocation and private auctions (spec/allocation-and-auctions.md).

-- What the registry's list reveals about a release: the window's end (NULL: an exact time,
-- or a source that does not say, like the HEXONET file).
ALTER TABLE drop_list ADD COLUMN drop_window_end BIGINT;

-- One row per drop the catcher went for: written once, in the transaction that allocates
-- the domain (or fails its orders), so a result is never applied twice.
CREATE TABLE catches (
    id              BIGSERIAL PRIMARY KEY,
    domain          TEXT    NOT NULL,
    drop_time       BIGINT  NOT NULL,   -- the drop list's time when the catch was planned
    outcome         TEXT    NOT NULL CHECK (outcome IN ('CAUGHT', 'NOT_CAUGHT', 'NOT_DROPPED')),
    registrar       TEXT,               -- the accreditation whose create won
    auth_code       TEXT,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    first_attempt_at BIGINT,
    release_seen_at BIGINT,             -- first moment the registry answered "available"
    created_at_registry BIGINT,         -- our winning create's time at the registry
    decided_at      BIGINT  NOT NULL,
    CHECK ((outcome = 'CAUGHT') = (registrar IS NOT NULL AND auth_code IS NOT NULL)),
    UNIQUE (domain, drop_time)
);
CREATE INDEX catches_by_decided ON catches (decided_at);

CREATE TABLE auctions (
    id               BIGSERIAL PRIMARY KEY,
    domain           TEXT    NOT NULL,
    catch_id         BIGINT  NOT NULL UNIQUE REFERENCES catches (id),
    currency         TEXT    NOT NULL,
    opening_bid      BIGINT  NOT NULL CHECK (opening_bid > 0),
    increments       TEXT    NOT NULL,  -- the increment table in force, as configured
    soft_close_secs  BIGINT  NOT NULL CHECK (soft_close_secs >= 0),
    start_time       BIGINT  NOT NULL,
    end_time         BIGINT  NOT NULL,  -- moves with soft-close extensions
    state            TEXT    NOT NULL CHECK (state IN ('OPEN', 'AWAITING_PAYMENT', 'SETTLED')),
    winner_order_id  BIGINT,
    price            BIGINT CHECK (price >= 0),
    payment_deadline BIGINT,
    payment_transfer_id BIGINT REFERENCES transfers (id),
    created_at       BIGINT  NOT NULL,
    CHECK (state <> 'AWAITING_PAYMENT' OR (winner_order_id IS NOT NULL AND price IS NOT NULL
        AND payment_deadline IS NOT NULL))
);
CREATE INDEX auctions_due ON auctions (state, end_time);

CREATE TABLE auction_seats (
    order_id    BIGINT  PRIMARY KEY REFERENCES backorders (id),
    auction_id  BIGINT  NOT NULL REFERENCES auctions (id),
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    ordered_at  BIGINT  NOT NULL,       -- the order's creation: seat priority
    defaulted   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX auction_seats_by_auction ON auction_seats (auction_id);
CREATE INDEX auction_seats_by_account ON auction_seats (account_id, auction_id);

-- Accepted maximum bids in acceptance order (id); a defaulter's are marked removed, never
-- deleted, so the history stays.
CREATE TABLE auction_bids (
    id          BIGSERIAL PRIMARY KEY,
    auction_id  BIGINT  NOT NULL REFERENCES auctions (id),
    order_id    BIGINT  NOT NULL REFERENCES auction_seats (order_id),
    maximum     BIGINT  NOT NULL CHECK (maximum > 0),
    placed_at   BIGINT  NOT NULL,
    removed     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX auction_bids_by_auction ON auction_bids (auction_id, id);

-- Caught domains given to an account (the platform's registrar holds them as trustee).
CREATE TABLE assigned_domains (
    id          BIGSERIAL PRIMARY KEY,
    domain      TEXT    NOT NULL,
    domain_unicode TEXT NOT NULL,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    order_id    BIGINT  NOT NULL UNIQUE REFERENCES backorders (id),
    catch_id    BIGINT  NOT NULL UNIQUE REFERENCES catches (id),
    registrar   TEXT    NOT NULL,
    auth_code   TEXT    NOT NULL,
    assigned_at BIGINT  NOT NULL
);
CREATE INDEX assigned_domains_by_account ON assigned_domains (account_id, id);
CREATE INDEX assigned_domains_by_domain ON assigned_domains (domain, id);
