-- The read side kept by the summary consumer: each order's latest total and
-- customer, and per-customer sums. Orders themselves live in eventlog.
CREATE TABLE order_totals (
    order_id    text PRIMARY KEY,
    customer    text   NOT NULL,
    total_cents bigint NOT NULL,
    version     bigint NOT NULL
);

CREATE TABLE customer_summaries (
    customer    text PRIMARY KEY,
    orders      bigint NOT NULL DEFAULT 0,
    total_cents bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
