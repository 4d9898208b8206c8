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
