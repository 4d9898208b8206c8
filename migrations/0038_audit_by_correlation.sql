-- A job's page shows the audit records the job caused: those of its correlation id (its
-- acceptance, its control, what its items recorded). Without this the page scanned the
-- tenant's whole audit log for them. Runs are searched by correlation id too (the console's
-- search), but that stays a scan of the tenant's runs: an index there would cost every
-- accepted run a write, and the engine's speed is counted in statements and index entries.
CREATE INDEX audit_by_correlation ON audit_log (tenant_id, correlation_id)
    WHERE correlation_id IS NOT NULL;
