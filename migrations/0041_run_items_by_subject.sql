-- The job search (`db::runs::search`, the console's "job, order or request id") finds the
-- bulk jobs an order was an item of, not only the runs about the order itself: an agent
-- asking "what touched this order?" is shown the bulk hold that held it. Led by the tenant,
-- as every lookup of the search is.
CREATE INDEX run_items_by_subject ON run_items (tenant_id, subject_id);
