-- Who reviews an order flagged for fraud. The flag itself (`fraud_state`) is the Orders
-- service's; this is orderdesk's own record of the assignment, one per order, replaced
-- by a new assignment and dropped when the order is flagged anew.
CREATE TABLE review_assignments (
    tenant_id    text NOT NULL,
    order_id     text NOT NULL,
    agent_id     text,
    team         text,
    notes        text,
    assigned_by  text NOT NULL,
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id),
    CHECK (agent_id IS NOT NULL OR team IS NOT NULL)
);

-- An agent's claim on one item of a work queue (`POST /v1/admin/queues/{queue}/claim`).
-- The items themselves are derived from open work (orders in fraud review, cancels waiting
-- for review, cases waiting for an agent, open tasks); a claim is live until `expires_at`,
-- after which the item can be claimed again (the row is then overwritten).
CREATE TABLE queue_claims (
    tenant_id   text NOT NULL,
    queue       text NOT NULL,
    item_id     text NOT NULL,
    claimed_by  text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, queue, item_id)
);

-- Agents' tasks: pick up a parcel, call the customer, escalate.
CREATE TABLE tasks (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    order_id      text,
    -- the order's customer, so an erasure finds the task's notes
    customer_id   text,
    kind          text NOT NULL CHECK (kind IN ('pickup','call_customer','escalate')),
    title         text NOT NULL,
    notes         text,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open','done','cancelled')),
    assignee      text,
    due_at        timestamptz,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_by     text,
    closed_at     timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tasks_by_created ON tasks (tenant_id, created_at DESC, id DESC);
CREATE INDEX tasks_open ON tasks (tenant_id, created_at, id) WHERE status = 'open';
CREATE INDEX tasks_by_customer ON tasks (tenant_id, customer_id) WHERE customer_id IS NOT NULL;

-- The items of every work queue, derived from open work (see domain::queues::QueueId; a
-- case waits for an agent while its newest message the customer can see is the customer's):
-- `since` is when the item entered its queue (what its age and SLA are measured from).
-- An order in review is dated by its last change (the flag's time is the Orders service's).
CREATE VIEW queue_items AS
    SELECT v.tenant_id, 'fraud_review'::text AS queue, v.id AS item_id, v.id AS order_id,
           v.updated_at AS since
      FROM order_views v WHERE v.fraud_state = 'review'
    UNION ALL
    SELECT r.tenant_id, 'cancel_review', r.id::text, r.order_id, r.created_at
      FROM requests r WHERE r.kind = 'cancel' AND r.status = 'pending_review'
    UNION ALL
    SELECT c.tenant_id, 'cases', c.id, c.order_id, c.last_message_at
      FROM support_cases c
     WHERE c.status = 'open'
       AND (SELECT m.author_kind FROM support_messages m
             WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND NOT m.internal
             ORDER BY m.created_at DESC, m.id DESC LIMIT 1) = 'customer'
    UNION ALL
    SELECT t.tenant_id, 'tasks', t.id::text, t.order_id, t.created_at
      FROM tasks t WHERE t.status = 'open';
CREATE INDEX order_views_in_review ON order_views (tenant_id) WHERE fraud_state = 'review';
CREATE INDEX requests_pending_review ON requests (tenant_id, created_at)
    WHERE status = 'pending_review';
