-- want: cluster
-- want: missing-lock-timeout
CLUSTER orders USING orders_pkey;
