-- Each instance's counters (`/metrics`), reported every few seconds and whenever it answers
-- /metrics or /admin/stats, so that any instance can answer for the whole cluster. A row
-- outlives its instance: what a stopped instance counted still happened.
CREATE TABLE instance_reports (
    instance text        PRIMARY KEY,
    report   text        NOT NULL, -- JSON: {"counters": {series: n}, "in_flight": n}
    seen     timestamptz NOT NULL
);
