-- The runtime's tables. Every row carries `engine` ("namespace/name"): one database serves a
-- fleet. Money and quantities are NUMERIC, never floating point.

CREATE TABLE orders (
    engine           text          NOT NULL,
    client_order_id  varchar(36)   NOT NULL,
    venue_order_id   text,
    intent_id        text          NOT NULL,
    symbol           varchar(20)   NOT NULL,
    category         varchar(8)    NOT NULL,
    side             varchar(4)    NOT NULL,
    order_type       varchar(8)    NOT NULL,
    qty              numeric(36, 18) NOT NULL,
    price            numeric(36, 18),
    quote_qty        boolean       NOT NULL DEFAULT false,
    post_only        boolean       NOT NULL DEFAULT false,
    reduce_only      boolean       NOT NULL DEFAULT false,
    status           varchar(16)   NOT NULL,
    filled_qty       numeric(36, 18) NOT NULL DEFAULT 0,
    avg_price        numeric(36, 18),
    reason           text          NOT NULL DEFAULT '',
    reject_reason    text,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (engine, client_order_id)
);
CREATE INDEX orders_open ON orders (engine)
    WHERE status IN ('Created', 'Submitted', 'Acknowledged', 'PartiallyFilled');

CREATE TABLE executions (
    engine           text          NOT NULL,
    trade_id         text          NOT NULL,
    client_order_id  varchar(36)   NOT NULL,
    venue_order_id   text          NOT NULL,
    symbol           varchar(20)   NOT NULL,
    category         varchar(8)    NOT NULL,
    side             varchar(4)    NOT NULL,
    qty              numeric(36, 18) NOT NULL,
    price            numeric(36, 18) NOT NULL,
    fee              numeric(36, 18) NOT NULL,
    fee_currency     varchar(16)   NOT NULL,
    is_maker         boolean       NOT NULL,
    ts_event         timestamptz   NOT NULL,
    recorded_at      timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (engine, trade_id)
);
CREATE INDEX executions_time ON executions (engine, ts_event);

CREATE TABLE positions (
    engine           text          NOT NULL,
    symbol           varchar(20)   NOT NULL,
    category         varchar(8)    NOT NULL,
    qty              numeric(36, 18) NOT NULL,  -- signed: > 0 long, < 0 short
    avg_entry_price  numeric(36, 18) NOT NULL,
    realized_pnl     numeric(36, 18) NOT NULL DEFAULT 0,
    fees             numeric(36, 18) NOT NULL DEFAULT 0,
    opened_at        timestamptz,
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (engine, symbol, category)
);

CREATE TABLE trades (
    id               bigserial     PRIMARY KEY,
    engine           text          NOT NULL,
    trade_id         text          NOT NULL,  -- the closing execution
    symbol           varchar(20)   NOT NULL,
    category         varchar(8)    NOT NULL,
    side             varchar(4)    NOT NULL,  -- of the position closed
    qty              numeric(36, 18) NOT NULL,
    entry_price      numeric(36, 18) NOT NULL,
    exit_price       numeric(36, 18) NOT NULL,
    realized_pnl     numeric(36, 18) NOT NULL,
    fee              numeric(36, 18) NOT NULL,
    closed_at        timestamptz   NOT NULL,
    UNIQUE (engine, trade_id)
);

CREATE TABLE equity_snapshots (
    engine           text          NOT NULL,
    ts               timestamptz   NOT NULL,
    equity           numeric(36, 18) NOT NULL,
    cash             numeric(36, 18) NOT NULL,
    unrealized_pnl   numeric(36, 18) NOT NULL,
    drawdown         numeric(12, 8) NOT NULL,
    PRIMARY KEY (engine, ts)
);

CREATE TABLE engine_checkpoints (
    engine             text        PRIMARY KEY,
    directive          jsonb,
    high_water_mark    numeric(36, 18),
    day                date,
    day_start_equity   numeric(36, 18),
    week               date,
    week_start_equity  numeric(36, 18),
    last_fill_ms       bigint      NOT NULL DEFAULT 0,
    emergency_stop     text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE governance_events (
    id          bigserial   PRIMARY KEY,
    engine      text        NOT NULL,
    sequence    bigint,
    kind        text        NOT NULL,  -- directive, halt-flat, shutdown, suspend
    detail      jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discrepancies (
    id          bigserial   PRIMARY KEY,
    engine      text        NOT NULL,
    kind        text        NOT NULL,  -- order, fill, position, balance
    subject     text        NOT NULL,
    ours        text,
    venue       text,
    resolution  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE risk_refusals (
    id          bigserial   PRIMARY KEY,
    engine      text        NOT NULL,
    intent_id   text        NOT NULL,
    symbol      text        NOT NULL,
    check_name  text        NOT NULL,
    reason      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
