-- Quotes of order edits: the JSON Patch operations an agent staged on an order, the order
-- as it would be after them (`preview`) and what it costs (`delta`), made on the order's
-- `order_version` and applicable until `expires_at`. Applying starts an `edit_order` run.
CREATE TABLE quotes (
    id text PRIMARY KEY,
    tenant_id text NOT NULL,
    order_id text NOT NULL,
    -- the order's customer, so that an erasure finds the addresses staged for them
    customer_id text NOT NULL,
    order_version bigint NOT NULL,
    changes jsonb NOT NULL,
    preview jsonb NOT NULL,
    delta jsonb NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'applied', 'aborted', 'expired')),
    expires_at timestamptz NOT NULL,
    created_by text NOT NULL,
    run_id uuid,
    closed_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quotes_by_order ON quotes (tenant_id, order_id, created_at);
CREATE INDEX quotes_by_customer ON quotes (tenant_id, customer_id);

-- A staged address is a JSON Patch operation `{"op":"replace","path":"/shipping_address",
-- "value":{…}}`: redact_pii now erases such a `value` as it does an `address`.
CREATE OR REPLACE FUNCTION redact_pii(j jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    k text;
    v jsonb;
    out jsonb := '{}'::jsonb;
BEGIN
    IF jsonb_typeof(j) = 'array' THEN
        RETURN COALESCE((SELECT jsonb_agg(redact_pii(e)) FROM jsonb_array_elements(j) e), '[]'::jsonb);
    ELSIF jsonb_typeof(j) <> 'object' THEN
        RETURN j;
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(j) LOOP
        IF k = 'email' AND jsonb_typeof(v) = 'string' THEN
            out := out || jsonb_build_object(k, 'redacted@erased.invalid');
        ELSIF k IN ('phone', 'destination', 'reason', 'cancel_reason', 'note', 'body', 'subject',
                    'comment', 'message', 'notes')
              AND jsonb_typeof(v) = 'string' THEN
            out := out || jsonb_build_object(k, '[redacted]');
        ELSIF (k IN ('address', 'shipping_address', 'billing_address', 'new_address', 'old_address',
                     'previous_address')
               OR (k = 'value' AND j->>'path' = '/shipping_address'))
              AND jsonb_typeof(v) = 'object' THEN
            out := out || jsonb_build_object(k, COALESCE((SELECT jsonb_object_agg(ak,
                        CASE WHEN ak <> 'country' AND jsonb_typeof(av) = 'string'
                             THEN to_jsonb('[redacted]'::text) ELSE av END)
                    FROM jsonb_each(v) AS a(ak, av)), '{}'::jsonb));
        ELSE
            out := out || jsonb_build_object(k, redact_pii(v));
        END IF;
    END LOOP;
    RETURN out;
END $$;
