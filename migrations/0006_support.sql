-- Support conversations, shipment-update subscriptions and GDPR erasure (issue 4).

-- One support case per order: the conversation between the customer and support, the case
-- the admin API exposes. `open` waits for support, `pending` waits for the customer.
CREATE TABLE support_cases (
    tenant_id        text NOT NULL,
    id               text NOT NULL,            -- case_…
    order_id         text NOT NULL,
    customer_id      text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open','pending','closed')),
    subject          text NOT NULL,
    message_count    int NOT NULL DEFAULT 0,
    last_message_at  timestamptz NOT NULL,
    -- internal: never shown to customers
    assigned_agent   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX support_cases_one_per_order ON support_cases (tenant_id, order_id);
CREATE INDEX support_cases_by_customer ON support_cases (tenant_id, customer_id);
CREATE INDEX support_cases_queue ON support_cases (tenant_id, status, last_message_at);

CREATE TABLE support_messages (
    tenant_id    text NOT NULL,
    id           text NOT NULL,                -- msg_…
    case_id      text NOT NULL,
    order_id     text NOT NULL,
    author_kind  text NOT NULL CHECK (author_kind IN ('customer','agent')),
    -- a customer id or an agent id; agent ids are never shown to customers
    author_id    text NOT NULL,
    body         text NOT NULL,
    -- an agent's note for colleagues: never shown to customers
    internal     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    redacted_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES support_cases (tenant_id, id)
);
CREATE INDEX support_messages_by_order ON support_messages (tenant_id, order_id, created_at, id);

-- At most one attachment per message; `content` is NULL once erased.
CREATE TABLE support_attachments (
    tenant_id     text NOT NULL,
    message_id    text NOT NULL,
    filename      text NOT NULL,
    -- decided by sniffing the content, never by the name or a declared type
    content_type  text NOT NULL,
    size_bytes    int NOT NULL,
    sha256        text NOT NULL,
    content       bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES support_messages (tenant_id, id)
);

-- Who wants shipment updates of an order, on which channel. Unsubscribing keeps the row
-- (subscribed = false) without its destination.
CREATE TABLE notification_subscriptions (
    tenant_id    text NOT NULL,
    order_id     text NOT NULL,
    customer_id  text NOT NULL,
    channel      text NOT NULL CHECK (channel IN ('email','sms','push')),
    subscribed   boolean NOT NULL,
    destination  text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id, customer_id, channel),
    CHECK (NOT subscribed OR destination IS NOT NULL)
);
CREATE INDEX notification_subscriptions_by_customer
    ON notification_subscriptions (tenant_id, customer_id);

-- A legal hold keeps a customer's data from erasure while it is in force: not released,
-- and `until` (if any) still in the future.
CREATE TABLE legal_holds (
    tenant_id    text NOT NULL,
    id           uuid PRIMARY KEY,
    customer_id  text NOT NULL,
    reason       text NOT NULL,
    placed_by    text NOT NULL,
    placed_at    timestamptz NOT NULL DEFAULT now(),
    until        timestamptz,
    released_at  timestamptz
);
CREATE INDEX legal_holds_by_customer ON legal_holds (tenant_id, customer_id);

-- Erasure helpers (used by db::gdpr). The redacted email is a constant of db::gdpr too.
-- An order document with its customer's personal data replaced: email, the shipping
-- address except the country, and the cancel reason (the customer's own words).
CREATE FUNCTION redact_order_doc(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT doc
        || CASE WHEN doc ? 'email'
                THEN jsonb_build_object('email', 'redacted@erased.invalid') ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(doc -> 'shipping_address') = 'object'
                THEN jsonb_build_object('shipping_address', (doc -> 'shipping_address')
                     || jsonb_build_object('name', '[redacted]', 'line1', '[redacted]',
                                           'line2', NULL, 'postal_code', '[redacted]',
                                           'city', '[redacted]'))
                ELSE '{}'::jsonb END
        || CASE WHEN jsonb_typeof(doc -> 'cancel_reason') = 'string'
                THEN jsonb_build_object('cancel_reason', '[redacted]') ELSE '{}'::jsonb END
$$;

-- Any JSON with personal data replaced, whatever its shape (request inputs, run inputs and
-- step outputs of every workflow): string members named like contact data or free text
-- are redacted, and every string inside an address-like object except `country`.
CREATE FUNCTION redact_pii(j jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
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
                    'comment', 'message')
              AND jsonb_typeof(v) = 'string' THEN
            out := out || jsonb_build_object(k, '[redacted]');
        ELSIF k IN ('address', 'shipping_address', 'billing_address', 'new_address', 'old_address')
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
