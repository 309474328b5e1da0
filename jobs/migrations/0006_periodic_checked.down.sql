ALTER TABLE seatbelt_jobs_periodic
    DROP COLUMN IF EXISTS checked_at,
    DROP COLUMN IF EXISTS check_every;
