SET lock_timeout = '5s';
-- now() is stable: PostgreSQL 11+ stores its value once, no rewrite.
ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
-- Add the column bare, then give new rows a default; backfill old ones in batches.
ALTER TABLE orders ADD COLUMN token uuid;
ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();
