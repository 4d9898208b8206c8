-- The fraud list (`GET /v1/admin/orders/fraud`, `db::fraud`): the Orders service's risk
-- assessment of an order (`domain::order::RiskAssessment`) as columns of the read model.
--
-- GENERATED from `doc`, as the search columns of 0010 are, so ingest, workflow
-- completions, the seeder's COPY and erasure keep them right without knowing of them.
-- Every writer serializes a `domain::order::Order`, whose score is an integer of 0 to 255,
-- so the cast cannot fail.
ALTER TABLE order_views
    ADD COLUMN risk_score integer GENERATED ALWAYS AS ((doc #>> '{risk,score}')::integer) STORED,
    -- the names of the rules that triggered, a JSON array of strings: `?` (has)
    ADD COLUMN risk_rules jsonb GENERATED ALWAYS AS (doc #> '{risk,rules}') STORED;

-- The list, riskiest first, paged by (score, id): only assessed orders are in it, a small
-- part of a tenant's, so the index is partial. A rule filter walks this index too and
-- reads the rules from the row.
CREATE INDEX order_views_by_risk ON order_views (tenant_id, risk_score DESC, id DESC)
    WHERE risk_score IS NOT NULL;
