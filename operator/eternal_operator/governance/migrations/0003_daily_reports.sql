-- The daily report of each UTC day, built by the operator's leader at 00:00 UTC: the row is the
-- guard against a second report (and notification) for the same day after a restart.
CREATE TABLE daily_reports (
    day          date        PRIMARY KEY,
    report       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    destination  text
);
