-- Events leave the outbox in id order with none left behind: the relay takes an event only
-- once every transaction that began writing before it has ended (its xid is below the
-- oldest xid still running), so a lower id can no longer commit after a higher one went
-- out. Rows written before this migration have no xid and count as old.
ALTER TABLE outbox ADD COLUMN xid xid8;
ALTER TABLE outbox ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
