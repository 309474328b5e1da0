SET lock_timeout = '5s';
-- want: volatile-default
ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();
-- want: volatile-default
ALTER TABLE orders ADD COLUMN seq bigserial;
-- want: volatile-default
ALTER TABLE orders ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
-- want: volatile-default
ALTER TABLE orders ADD COLUMN picked_at timestamptz DEFAULT clock_timestamp();
