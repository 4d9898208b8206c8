-- A request that its run carries out from the start (a customer's cancel, return, exchange,
-- erasure) is written `queued` with its run's id, before the run: the acceptance then writes
-- each row once, where the run's insert also updated the request it had just inserted (a
-- second version of the row, and an entry in each of its indexes). The link is checked at
-- commit, so a request never names a run that was not written with it.
ALTER TABLE requests ALTER CONSTRAINT requests_run_id_fkey DEFERRABLE INITIALLY DEFERRED;
