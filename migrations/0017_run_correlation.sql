-- The correlation id of the request that started a run (its `X-Correlation-ID`, else its
-- request id): the run's upstream calls carry it, so one run's calls can be tied together
-- across services and to the acceptance's audit record.
ALTER TABLE runs ADD COLUMN correlation_id text;
