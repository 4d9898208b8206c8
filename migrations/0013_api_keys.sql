-- Scoped API keys for integrations (`/v1/admin/keys`): shown once, stored as the SHA-256 of
-- their secret (a random 256-bit value, so a fast hash is enough: nothing to guess), usable
-- instead of an agent's JWT within their scopes until they expire or are revoked.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    name         text NOT NULL,
    secret_hash  bytea NOT NULL,
    -- permission names (`orders.read`, …)
    scopes       text[] NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   text
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);
