-- The claim index without the queue, replaced by 0003's. Workers of the
-- version before queues, still running during the rollout that applies
-- this, then sort the available jobs on each claim instead of reading
-- them in order: slower claims for minutes, no wrong ones.
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_claim;
