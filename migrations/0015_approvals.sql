-- High-risk actions held for a second agent's approval (`/v1/admin/approvals`): the request
-- as its requester sent it, who decided, and whether the requester has carried it out.
CREATE TABLE approvals (
    tenant_id     text NOT NULL,
    id            uuid PRIMARY KEY,
    action        text NOT NULL,
    -- the order it concerns; '' for an action on none (a key)
    subject_id    text NOT NULL,
    payload       jsonb NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'pending_approval'
        CHECK (status IN ('pending_approval', 'approved', 'rejected', 'executed')),
    decided_by    text,
    decided_at    timestamptz,
    decision_note text,
    executed_at   timestamptz,
    CHECK (decided_by IS DISTINCT FROM requested_by)
);
CREATE INDEX approvals_by_tenant ON approvals (tenant_id, status, requested_at);
