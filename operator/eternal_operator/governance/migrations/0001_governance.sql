-- Governance state per CircuitBreakerPolicy: the durable copy of what its status holds, so
-- the high-water mark and a latched halt survive even a lost status.
CREATE TABLE policy_state (
    namespace        text        NOT NULL,
    policy           text        NOT NULL,
    units            numeric     NOT NULL,
    high_water_mark  numeric     NOT NULL,
    level            integer     NOT NULL,
    level_since      timestamptz,
    halted           boolean     NOT NULL,
    halt_reason      text,
    tripped_at       timestamptz,
    reset_token      text,
    directive_seq    integer     NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (namespace, policy)
);

-- Every level change, halt and reset, in order.
CREATE TABLE policy_changes (
    id          bigserial   PRIMARY KEY,
    namespace   text        NOT NULL,
    policy      text        NOT NULL,
    at          timestamptz NOT NULL,
    from_level  integer     NOT NULL,
    to_level    integer     NOT NULL,
    drawdown    numeric     NOT NULL,
    reason      text        NOT NULL
);
CREATE INDEX policy_changes_by_policy ON policy_changes (namespace, policy, at);
