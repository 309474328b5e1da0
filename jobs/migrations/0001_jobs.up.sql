-- seatbelt jobs: the job rows, their history and their entity ledger.

CREATE TABLE seatbelt_jobs (
    id            bigserial   PRIMARY KEY,
    kind          text        NOT NULL,
    args          jsonb       NOT NULL DEFAULT '{}',
    -- available: waiting for a worker (run_at may be in the future: scheduled or backing off)
    -- running: a worker holds the lease; failed: attempts exhausted, waiting for an operator
    state         text        NOT NULL DEFAULT 'available'
                  CHECK (state IN ('available', 'running', 'succeeded', 'failed', 'cancelled', 'cleaned')),
    -- the stage to run next, or running; '' means "the kind's first stage"
    stage         text        NOT NULL DEFAULT '',
    -- tries of the current stage; reset when the stage changes
    attempt       integer     NOT NULL DEFAULT 0,
    -- claims of this job ever; the fencing token every write of a worker is checked against
    claim         bigint      NOT NULL DEFAULT 0,
    priority      smallint    NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL,
    unique_key    text,
    -- the worker holding the stage: set exactly while running, so a write
    -- fenced by "claim = mine AND worker IS NOT NULL" needs no state test
    -- (which would lead the planner to the lease index)
    worker        text,
    lease_until   timestamptz,
    cancel_requested boolean  NOT NULL DEFAULT false,
    results       jsonb       NOT NULL DEFAULT '{}',
    last_error    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);

-- Workers claim from here: only available rows, in claim order.
CREATE INDEX seatbelt_jobs_claim ON seatbelt_jobs (priority, run_at, id) WHERE state = 'available';
-- The leader rescues expired leases from here.
CREATE INDEX seatbelt_jobs_lease ON seatbelt_jobs (lease_until) WHERE state = 'running';
-- Retention deletes from here. (No index on state alone: every state change
-- would update it, and only the operator's listings would use it.)
CREATE INDEX seatbelt_jobs_finished ON seatbelt_jobs (finished_at) WHERE state IN ('succeeded', 'cancelled', 'cleaned');
-- One live job per unique key, even under concurrent enqueues.
CREATE UNIQUE INDEX seatbelt_jobs_unique ON seatbelt_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'failed');

-- The history. No foreign key: every claim and completion inserts here, and
-- the check would cost more than the row; retention deletes a job's events
-- with the job.
-- No primary key either: the (job_id, id) index serves every read, and a
-- second index on each of two inserts per stage is the hot path's cost.
CREATE TABLE seatbelt_job_events (
    id       bigserial   NOT NULL,
    job_id   bigint      NOT NULL,
    at       timestamptz NOT NULL,
    event    text        NOT NULL,
    stage    text        NOT NULL DEFAULT '',
    attempt  integer     NOT NULL DEFAULT 0,
    worker   text        NOT NULL DEFAULT '',
    detail   jsonb
);
CREATE INDEX seatbelt_job_events_job ON seatbelt_job_events (job_id, id);

-- The ledger: one row per Track call, holding the keys of the rows a stage
-- created in one table.
CREATE TABLE seatbelt_job_entities (
    id         bigserial   PRIMARY KEY,
    job_id     bigint      NOT NULL REFERENCES seatbelt_jobs (id) ON DELETE CASCADE,
    stage      text        NOT NULL,
    attempt    integer     NOT NULL,
    table_name text        NOT NULL,
    keys       text[]      NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX seatbelt_job_entities_job ON seatbelt_job_entities (job_id, id) WHERE deleted_at IS NULL;

-- One row per election: the client that renews it in time is the leader
-- (lease rescue, retention, gauges). A lease row rather than an advisory
-- lock, so that a paused leader (SIGSTOP, a long GC, a frozen VM) loses the
-- role when its lease ends instead of holding it forever.
CREATE TABLE seatbelt_jobs_leader (
    name       text        PRIMARY KEY,
    leader     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
