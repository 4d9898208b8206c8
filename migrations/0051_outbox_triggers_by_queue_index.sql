-- no-transaction
-- The relay's index of unsent triggers by queue (0050), built CONCURRENTLY: the outbox keeps
-- a month of order events, and a plain build would hold every acceptance's insert for as
-- long as it reads them. One statement, as a file run outside a transaction must be (sqlx
-- sends it as one query). The build waits for every transaction older than it in this
-- database (a running export's snapshot, a seed, a dump). A build that failed leaves an
-- invalid index of this name, which IF NOT EXISTS keeps when the file runs again; db::migrate
-- rebuilds it (`REINDEX INDEX CONCURRENTLY`) whenever it finds it invalid.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_triggers_unsent_by_queue ON outbox (queue, id)
    WHERE sent_at IS NULL AND kind = 'trigger';
