-- The claim index without the queue, kept by 0003 for the workers of the
-- version before queues while they could still run beside newer ones. No
-- claim of a later version reads it (they claim per queue, through
-- seatbelt_jobs_claim_queue), yet every job entering 'available' (each
-- enqueue, each next stage, each retry) still paid an entry in it. A
-- worker of a version before 0003 still running after this claims by
-- scanning the table: upgrade from those through a version with 0003 to
-- 0006 first (see the README's upgrade notes).
--
-- Concurrently, so that enqueues and claims go on meanwhile. Down builds it
-- again the same way.

-- seatbelt:ignore concurrently-in-transaction migcheck, this set's runner, runs a file with CONCURRENTLY statement by statement
DROP INDEX CONCURRENTLY IF EXISTS seatbelt_jobs_claim;
