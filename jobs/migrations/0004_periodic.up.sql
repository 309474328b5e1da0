-- Periodic jobs: one row per schedule (Client.AddPeriodic). A client
-- enqueues a slot's job in the transaction that moves last_slot past it,
-- under this row's lock, so each slot gets at most one job however many
-- replicas (or leaders, or restarts) race for it. The schedule the row
-- holds is the one that fires: a client that starts later with another
-- schedule (a new build) replaces it; older clients defer to it.
CREATE TABLE seatbelt_jobs_periodic (
    name          text        PRIMARY KEY,
    kind          text        NOT NULL,
    -- the schedule as written, with its time zone and missed policy
    schedule      text        NOT NULL,
    -- when the client that wrote schedule started: a later one's wins
    schedule_from timestamptz NOT NULL,
    written_by    text        NOT NULL,
    -- the latest slot a job was enqueued for, and that job
    last_slot     timestamptz,
    last_job_id   bigint,
    next_slot     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
