-- An inspector's `notes` on a return (`returns.inspection`, the `inspect_return` run's input
-- and result) may describe the customer: redact_pii now erases them as it does `note`. The
-- erasure also rewrites the customer's `returns` rows (their lines' comments and the
-- inspection), which it did not touch before.
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
        ELSIF k IN ('address', 'shipping_address', 'billing_address', 'new_address', 'old_address',
                    'previous_address')
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
