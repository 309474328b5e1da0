-- Liveness of a stored periodic schedule. The clients of this version on
-- that run the stored schedule set checked_at to the database's clock
-- every check_every (half their on-time window); an older-started client
-- of this version on whose own schedule differs defers to the stored one
-- while checked_at keeps moving, and takes the name back when it stops
-- (that build rolled back, or its last replica gone). Both are read on
-- the database's clock, so replicas' clocks need not agree. Clients of
-- earlier versions neither write nor read them: they defer while the
-- stored schedule's next slot is not overdue, as before.
-- Nullable, without a default: adding them rewrites nothing and takes the
-- table's lock only for a moment. NULL (a row no client has refreshed yet)
-- counts as not refreshed.
-- seatbelt:ignore missing-lock-timeout this set is applied by migcheck, which sets lock_timeout and retries
ALTER TABLE seatbelt_jobs_periodic
    ADD COLUMN checked_at  timestamptz,
    ADD COLUMN check_every interval;
