-- Signed-in sessions of the operations console (/console). The cookie carries a random
-- secret; only its SHA-256 is kept. The credential the agent signed in with (a token or
-- an API key) is kept sealed under ORDERDESK_DATA_KEY and verified again on every request,
-- so a revoked key or an expired token ends the session; so is a step-up (sudo) token the
-- agent gave to the console, until its own expiry.
CREATE TABLE console_sessions (
    id_hash          bytea PRIMARY KEY,
    tenant_id        text NOT NULL,
    principal        text NOT NULL,
    credential       bytea NOT NULL,
    csrf_token       text NOT NULL,
    sudo_credential  bytea,
    sudo_expires_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
