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
-- Retention and listings by state.
CREATE INDEX seatbelt_jobs_state ON seatbelt_jobs (state, finished_at);
-- One live job per unique key, even under concurrent enqueues.
CREATE UNIQUE INDEX seatbelt_jobs_unique ON seatbelt_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'running', 'failed');

CREATE TABLE seatbelt_job_events (
    id       bigserial   PRIMARY KEY,
    job_id   bigint      NOT NULL REFERENCES seatbelt_jobs (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL,
    event    text        NOT NULL,
    stage    text        NOT NULL DEFAULT '',
    attempt  integer     NOT NULL DEFAULT 0,
    worker   text        NOT NULL DEFAULT '',
    detail   jsonb
);
CREATE INDEX seatbelt_job_events_job ON seatbelt_job_events (job_id, id);

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
