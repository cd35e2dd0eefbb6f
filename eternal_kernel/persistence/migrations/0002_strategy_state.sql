-- The strategy's own state (its state machines), checkpointed after every decision so a restart
-- resumes it instead of starting the strategy over.
ALTER TABLE engine_checkpoints
    ADD COLUMN strategy_name   text,
    ADD COLUMN strategy_api    integer,
    ADD COLUMN strategy_state  bytea,
    ADD COLUMN strategy_saved_at timestamptz;
