-- Every (re)build of a grid strategy's ladder: when, why (start, out-of-range, pump-dump,
-- one-side, max-age), around which centre and how wide.
CREATE TABLE grid_recentres (
    id            bigserial       PRIMARY KEY,
    engine        text            NOT NULL,
    symbol        text            NOT NULL,
    reason        text            NOT NULL,
    centre        numeric(36, 18) NOT NULL,
    spacing       numeric(36, 18) NOT NULL,
    lowest_buy    numeric(36, 18) NOT NULL,
    highest_sell  numeric(36, 18) NOT NULL,
    levels        integer         NOT NULL,
    generation    integer         NOT NULL,
    at            timestamptz     NOT NULL,
    created_at    timestamptz     NOT NULL DEFAULT now()
);

CREATE INDEX grid_recentres_engine ON grid_recentres (engine, at);
