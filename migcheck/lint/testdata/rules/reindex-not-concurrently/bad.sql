-- want: reindex-not-concurrently
REINDEX INDEX orders_customer_idx;
