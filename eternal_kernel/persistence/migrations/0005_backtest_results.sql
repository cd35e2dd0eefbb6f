-- The results of a Backtest's shards: one row per combination of the grid. A runtime-set
-- migration because the writer is the runtime image's shard process
-- (`python -m engine_runtime.backtest.shard`, applying the runtime migrations as an engine's
-- runtime does); the operator only reads the rows of a Backtest to rank them into its status.
-- A retried shard deletes and rewrites its own rows (backtest_uid, shard) in one transaction.
CREATE TABLE backtest_results (
    backtest_uid  text             NOT NULL,
    namespace     text             NOT NULL,
    backtest      text             NOT NULL,
    shard         integer          NOT NULL,
    position      integer          NOT NULL,  -- the combination's place in the whole grid
    params        jsonb            NOT NULL,
    metric        text             NOT NULL,
    score         double precision,           -- higher is better; NULL: no value, or an error
    final_equity  numeric(36, 18),
    fees          numeric(36, 18),
    stats         jsonb            NOT NULL,  -- the backtester's Stats, Decimals as strings
    error         text,
    written_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (backtest_uid, position)
);

CREATE INDEX backtest_results_shard ON backtest_results (backtest_uid, shard);

-- The sweep's heatmap (the metric over the first two axes), drawn by the shard that finds every
-- shard's rows stored once its own are; the operator copies it into the report ConfigMap.
CREATE TABLE backtest_plots (
    backtest_uid  text         NOT NULL,
    name          text         NOT NULL,
    png           bytea        NOT NULL,
    written_at    timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (backtest_uid, name)
);
