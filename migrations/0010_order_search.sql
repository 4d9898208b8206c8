-- Order search (`POST /v1/admin/orders/search`, `db::search`): the fields a search names,
-- as columns of the read model derived from the order document, and their indexes.
--
-- Every column here is GENERATED from `doc`, so whatever writes the document (ingest,
-- workflow completions, the seeder's COPY, erasure) keeps them right without knowing of them.

-- GIN indexes that begin with tenant_id, so one tenant's matches are found without
-- visiting another's (a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The strings of a JSON array, sorted and without duplicates; empty for anything else.
CREATE FUNCTION order_doc_texts(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT e ORDER BY e), '{}')
    FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]' END) e
$$;

-- How far an order's goods have gone: `unfulfilled` without a shipment, `partial` while
-- some lines are not shipped, else the least advanced status among its shipments
-- (domain::search::fields::FULFILLMENT_STATUSES).
CREATE FUNCTION order_doc_fulfillment_status(doc jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(doc -> 'shipments') = 'array'
                                              THEN doc -> 'shipments' END), 0) = 0
            THEN 'unfulfilled'
        WHEN doc ->> 'status' = 'partially_shipped' THEN 'partial'
        ELSE (SELECT s ->> 'status' FROM jsonb_array_elements(doc -> 'shipments') s
              ORDER BY array_position(ARRAY['label_created', 'in_transit', 'out_for_delivery',
                                            'delivered'], s ->> 'status') NULLS FIRST
              LIMIT 1)
    END
$$;

-- What full text searches: the customer's name and address and the order's notes. The
-- `simple` configuration (no stemming, no stop words): names and addresses are in every
-- language, and a street is found by the words it is written with.
CREATE FUNCTION order_doc_search_text(doc jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple'::regconfig, concat_ws(' ',
        doc #>> '{shipping_address,name}', doc #>> '{shipping_address,line1}',
        doc #>> '{shipping_address,line2}', doc #>> '{shipping_address,postal_code}',
        doc #>> '{shipping_address,city}', doc #>> '{shipping_address,country}',
        array_to_string(order_doc_texts(jsonb_path_query_array(doc, '$.notes[*].body')), ' ')))
$$;

ALTER TABLE order_views
    ADD COLUMN channel text GENERATED ALWAYS AS (doc ->> 'channel') STORED,
    ADD COLUMN external_ref text GENERATED ALWAYS AS (doc ->> 'external_ref') STORED,
    ADD COLUMN tags text[] GENERATED ALWAYS AS (order_doc_texts(doc -> 'tags')) STORED,
    ADD COLUMN skus text[]
        GENERATED ALWAYS AS (order_doc_texts(jsonb_path_query_array(doc, '$.lines[*].sku'))) STORED,
    ADD COLUMN tracking_numbers text[]
        GENERATED ALWAYS AS (order_doc_texts(
            jsonb_path_query_array(doc, '$.shipments[*].tracking_number'))) STORED,
    -- the newest payment's status (`domain::order::Payment::status`)
    ADD COLUMN payment_status text GENERATED ALWAYS AS (doc -> 'payments' -> -1 ->> 'status') STORED,
    ADD COLUMN fulfillment_status text
        GENERATED ALWAYS AS (order_doc_fulfillment_status(doc)) STORED,
    -- holds placed through the admin API will widen this
    ADD COLUMN on_hold boolean GENERATED ALWAYS AS (status = 'on_hold') STORED,
    ADD COLUMN fraud_state text GENERATED ALWAYS AS (doc ->> 'fraud_state') STORED,
    ADD COLUMN customer_name text
        GENERATED ALWAYS AS (doc #>> '{shipping_address,name}') STORED,
    ADD COLUMN search_text tsvector GENERATED ALWAYS AS (order_doc_search_text(doc)) STORED;

-- The default sort (newest first) and date ranges and histograms of placed_at.
CREATE INDEX order_views_by_placed ON order_views (tenant_id, placed_at, id);
-- Sorting and ranges by amount.
CREATE INDEX order_views_by_total ON order_views (tenant_id, total_minor, id);
-- Status filters and counts by status.
CREATE INDEX order_views_by_status ON order_views (tenant_id, status, placed_at);
CREATE INDEX order_views_by_email ON order_views (tenant_id, email);
CREATE INDEX order_views_by_external_ref ON order_views (tenant_id, external_ref)
    WHERE external_ref IS NOT NULL;
CREATE INDEX order_views_tags ON order_views USING gin (tenant_id, tags);
CREATE INDEX order_views_skus ON order_views USING gin (tenant_id, skus);
CREATE INDEX order_views_tracking ON order_views USING gin (tenant_id, tracking_numbers);
CREATE INDEX order_views_search_text ON order_views USING gin (tenant_id, search_text);
-- Not indexed: updated_at, which every write of the read model changes; an index on it
-- would make every such write a non-HOT update. A sort or range on it reads the tenant's
-- orders.

-- Erasure redacts what notes say too (their text is free, so it may hold personal data).
CREATE OR REPLACE FUNCTION redact_order_doc(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
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
        || CASE WHEN jsonb_typeof(doc -> 'notes') = 'array'
                THEN jsonb_build_object('notes', (
                     SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(n) = 'object'
                                                    THEN n || '{"body": "[redacted]"}'::jsonb
                                                    ELSE n END), '[]'::jsonb)
                     FROM jsonb_array_elements(doc -> 'notes') n))
                ELSE '{}'::jsonb END
$$;
