-- Queues: every job belongs to one (EnqueueOpts.Queue, "default" unless
-- given); a client works the queues in its Config.Queues, each with its own
-- MaxWorkers. A queue paused here (PauseQueue, seatbelt jobs pause) is
-- claimed from by no worker of this version until it is resumed; a row
-- exists only for a queue that was ever paused.
--
-- A constant default makes the new column instant, without rewriting the
-- table. Workers of the version before this one ignore queues and pauses
-- until they are replaced.
-- seatbelt:ignore missing-lock-timeout this set is applied by migcheck, which sets lock_timeout and retries
ALTER TABLE seatbelt_jobs ADD COLUMN queue text NOT NULL DEFAULT 'default';

CREATE TABLE seatbelt_job_queues (
    name       text        PRIMARY KEY,
    -- NULL: running; else when it was paused, and by whom
    paused_at  timestamptz,
    paused_by  text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL
);
