-- The read model's documents are compressed with LZ4 instead of PostgreSQL's own pglz. A
-- demo document is about 1.3 kB and a third of the rows pass the 2 kB at which PostgreSQL
-- compresses; pglz spent a quarter of a million-order COPY compressing them, and every
-- expression that reads `doc` afterwards (the deferred index builds, ANALYZE, the search's
-- result pages) decompressing them. Measured on a seeded million (2 cores, same sitting):
-- COPY 23.3 s → 17.0 s, the index builds 13.6 s → 10.9 s.
-- Only values written from now on: a row keeps the method it was written with until it is
-- written again, and both are read alike. A server built without LZ4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE order_views ALTER COLUMN doc SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4: order_views.doc stays compressed with pglz';
END
$$;
