-- Personal data in audit records (free-text reasons, addresses, results, the client's IP) is
-- sealed under a key per data subject: erasing the customer destroys the key, so the
-- append-only rows keep who did what to which order, but nothing readable about the person
-- (crypto-shredding). Rows about no one in particular stay in clear.
CREATE TABLE subject_keys (
    tenant_id   text NOT NULL,
    customer_id text NOT NULL,
    key         bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id)
);

ALTER TABLE audit_log ADD COLUMN sealed_for text, ADD COLUMN sealed bytea;
