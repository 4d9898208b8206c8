-- An edit's first step (`apply_at_orders`) keeps whom to tell as `order_email`, which
-- redact_pii did not know: an erased customer's address stayed in the step's output. It is
-- now redacted as `email` is. Otherwise the function is 0031's.
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
        IF k IN ('email', 'order_email') AND jsonb_typeof(v) = 'string' THEN
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
