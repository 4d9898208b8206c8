-- When the customer's erasure deleted the archive from the exports store: the row stays
-- (who asked for what, when, and what it held in counts), its object is gone, and its links
-- answer 410 `export.erased`.
ALTER TABLE subject_exports ADD COLUMN erased_at timestamptz;
