-- A bulk seed into an empty order_views now also drops its foreign key (to tenants) before
-- the COPY and adds it again after: the key's check, a trigger and a locking lookup of the
-- tenant for every row, was a fifth of the COPY's time on two streams, and added again it
-- checks every row in one join. Its record in deferred_indexes is the statement that adds
-- it (`ALTER TABLE … ADD CONSTRAINT …`), run and deleted in one transaction like an index's.
COMMENT ON TABLE deferred_indexes IS
    'Indexes and foreign keys of order_views dropped by a bulk seed, made again after its COPY or, if the seed died, at the next process start';
