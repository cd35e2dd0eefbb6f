-- Each write of an order row carries the version of the in-memory snapshot it was taken from;
-- an UPDATE applies only when it is newer than the row (`WHERE version < $new`), so writes
-- racing on different pool connections cannot leave an older state in the row.
ALTER TABLE orders ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- An order's booked quantity (its executions' sum) is read with the open orders at start.
CREATE INDEX executions_order ON executions (engine, client_order_id);
