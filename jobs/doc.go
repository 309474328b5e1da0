// Package jobs runs durable multi-stage jobs on PostgreSQL: every state
// change and result is stored, every entity a job creates is recorded, so a
// failed job can be cleaned up with one command and run again, and a worker
// killed at any moment loses nothing.
//
// # Kinds and stages
//
// A [Kind] is an ordered list of named [Stage]s that a service registers
// with [Client.Register]. A stage's Run gets a [*StageRun]: the job's args
// ([StageRun.Args]), the results of earlier stages ([StageRun.Result]), its
// own result ([StageRun.SetResult]) and the stage's transaction
// ([StageRun.Tx]).
//
// # Exactly-once effects and the ledger
//
// Whatever a stage writes through [StageRun.Tx] commits in one transaction
// with the stage's completion and with the ledger entries of
// [StageRun.Track]. The completion is fenced by the claim and the worker's
// name (Config.WorkerID): a worker whose lease ran out (paused,
// partitioned) and was replaced cannot commit, so a stage's effects happen
// once. The client ends that transaction, not the
// stage: its Commit returns [ErrStageCommit]. A stage that must not hold a
// transaction records its entities first with [StageRun.TrackNow] (the
// opt-out mode), then creates them, so cleanup never misses one.
//
// # The database
//
// Every function takes a [DB]: a *pgxpool.Pool, a *pgx.Conn or the
// caller's pgx.Tx, whose commit then includes the function's writes (a
// function that needs a transaction of its own takes a savepoint in it).
// Only [NewClient] takes a pool, for its concurrent stages and its
// listening connection.
//
// # Enqueue
//
// [Enqueue] ([EnqueueMany] for batches) adds a job with JSON args and
// [EnqueueOpts]: a unique key (one live job per key, safe under concurrent
// enqueues through a partial unique index), a priority and a run-at time.
// It needs no client: pass the pool, or the caller's pgx.Tx so that the
// job exists only if the caller's writes commit.
//
// # Workers
//
// A started [Client] claims due jobs with SELECT ... FOR NO KEY UPDATE
// SKIP LOCKED in batches, woken by LISTEN/NOTIFY with a poll as fallback.
// Each running stage holds a lease (Config.Lease, 30 s by default) renewed
// by a heartbeat; when a worker dies, the leader makes its stage available
// again after the lease, and the attempt counts. A job row that another
// transaction holds (an operator's SELECT ... FOR UPDATE, a [Cancel] in a
// transaction still open) holds up no other stage's renewal or completion,
// and its own stage's lease is renewed, and its completion written, the
// moment the row is released, however long that took; keep such
// transactions short all the same, since a waiting renewal holds one of
// the pool's connections. A stage's transaction ([StageRun.Tx]) holds one
// too, until the stage ends; at most the pool's MaxConns less 2 are open at
// once, so that the heartbeat, the claims and the completions always find
// a connection (a stage beyond waits in Tx). Stages have a timeout, a
// number of attempts and a backoff. A worker that does not know a job's
// kind or stage (an older version during a rollout) leaves it for one that
// does.
//
// A claim commits without waiting for the disk (synchronous_commit off in
// its own transaction; everything else waits as usual), which takes a
// WAL flush off every enqueue-to-start. The claim is on disk within the
// WAL writer's delay, or at once with the next commit that waits. A crash
// of the server in that gap loses the claim and its "started" event, never
// a job: the job is claimed again, and the worker that was running it is
// fenced off as after a lost lease (or, claiming it again itself, keeps
// its run under way).
//
// A stage that waits on something outside (an export not ready yet, a
// partner asking to come back later) returns [Snooze]: it runs again after
// the delay, on any worker, without using an attempt, its transaction's
// writes rolled back; the history shows a "snoozed" event with the time.
//
// One client in the database is the leader (a lease row, so a paused leader
// loses the role): it rescues expired leases, deletes finished jobs after
// Config.Retention and counts the jobs by state for Config.Observer.
//
// Every field of [Config] left zero takes the default its comment gives;
// [NewClient] refuses a negative duration or count, and [Client.Register]
// a kind set wrong, with [ErrInvalidConfig] naming the field and what to
// set.
//
// # Queues
//
// Every job waits in a queue: EnqueueOpts.Queue, or [DefaultQueue]. A
// client works the queues of Config.Queues (by default only
// DefaultQueue), each with its own MaxWorkers, so a flood of imports does
// not hold back the emails. [PauseQueue] stops every replica claiming
// from a queue at the pause's commit (a claim already under way may still
// start its batch), a replica started later included,
// until [ResumeQueue]; stages already running finish, and jobs can still
// be enqueued. Operators pause a queue before a risky deploy (seatbelt
// jobs pause import) and resume it after. [Queues] reports each queue's
// pause and its jobs by state.
//
// # Periodic jobs
//
// [Client.AddPeriodic] enqueues a kind at every slot of a [Schedule]
// ([Cron], seconds optional, in a time zone; or [Every]). Every replica
// that adds it takes part, and each slot gets exactly one job: the job is
// enqueued in the transaction that moves the schedule's row in
// seatbelt_jobs_periodic past the slot, under that row's lock, so two
// replicas, two leaders or a restart cannot double it. Slots that passed
// while every replica was down are skipped or run once together
// ([Missed]); slots that came due while replicas ran but could not reach
// the database run once, late. A replica started later with another
// schedule, args or priority under the same name (a new build) replaces
// the stored one and the older replicas defer to it, so a changed
// schedule holds from the deploy on; if that build is rolled back, they
// take the name back within seconds. [Periodic]
// (seatbelt jobs periodic) shows each schedule's last and next slot.
//
// # Stopping
//
// [Client.Stop] is the soft stop, made to be a graceful stop hook
// (app.OnStop("jobs", client.Stop)): it stops claiming and waits for the
// running stages; if its context ends first, the stages still running are
// cancelled and released at once without using an attempt, and Stop
// returns ctx.Err(). [Client.StopAndCancel] cancels them at once. Both
// tolerate a client never started and a second call.
//
// # Operating on jobs
//
// [List], [Get], [History] and [Entities] read (a job's state is a
// [JobState], StateAvailable to StateCleaned, and each history row's kind
// an [EventKind]; [ParseState] reads a state from text). List pages
// newest first (by ID) through jobs filtered by state, kind, queue and
// creation time ([ListOpts]); [ListPage] also says where the next page
// starts. No filter, one ended state and the running jobs read through an
// index; the other filters read at most ListOpts.Scan jobs a page, so a
// page costs about the same in a table of millions, and the creation-time
// bounds become an ID range by bisecting the primary key. [Cancel] cancels (a running
// stage's context is cancelled within a second, through LISTEN/NOTIFY, or
// at the next heartbeat for a client without a listener);
// [Restart] runs the job again from the failed stage or, after a cleanup,
// from the first, keeping the history. Cancel, [Cleanup] and Restart take
// an Actor in their options, who asked, and write it into the detail of
// the history events they add ("actor"); Cancel and Cleanup take
// IfUpdatedAt, so an action confirmed from what a page showed refuses a
// job that changed since. The CLI wraps them: seatbelt jobs
// list | show | cancel | cleanup | restart, and so does the operator
// console (package console).
//
// # Cleanup
//
// [Cleanup] deletes every recorded entity newest first through a [Deleter]
// per table and reports the rows the deletes deleted
// ([CleanupResult].Rows, counted with [CountDeleted]). [DeleteByColumn] is
// the plain deleter; its column must be unique (a primary key or a unique
// index of its own), or rows other jobs wrote with the same value would go
// too. The table is the name given to [StageRun.Track]: "invoices",
// schema-qualified "billing.invoices", and a name that itself contains a
// dot in double quotes, as in SQL: billing."audit.2024".
//
// Every deleter is checked before anything is deleted (see [Deleter]), by
// Cleanup for the tables it cleans and by [Client.Start] for
// Config.Deleters, so a missing table or a column that is not unique is
// reported with the fix rather than found halfway. Each batch's deletes
// and its ledger marks commit together: a cleanup interrupted at any point
// (kill -9 included) leaves the job in its state with part of its entities
// deleted, and running it again finishes it. Until then [Restart] refuses
// the job, since part of what its stages created is gone, and the
// retention keeps it, since its ledger is the only record of the rest.
//
// # Tables and observability
//
// [Migrations] creates seatbelt_jobs, seatbelt_job_events (the history),
// seatbelt_job_entities (the ledger) and seatbelt_jobs_leader; apply it
// with the service's own set through migcheck. Each stage runs in a span
// "jobs.stage <kind>/<stage>" with jobs.job_id, jobs.kind, jobs.stage and
// jobs.attempt (Config.TracerProvider). Config.Observer, an [Observer],
// receives stage outcomes, job starts, rescues and the leader's count of
// jobs by state; the package jobsprom implements it and exports
// seatbelt_jobs_jobs{state}, seatbelt_jobs_queue_jobs{queue,state},
// seatbelt_jobs_queue_paused{queue}, seatbelt_jobs_queue_paused_seconds,
// seatbelt_jobs_stage_duration_seconds, seatbelt_jobs_retries_total,
// seatbelt_jobs_rescued_total and seatbelt_jobs_queue_latency_seconds, so
// that jobs itself does not link
// the Prometheus client:
//
//	col := jobsprom.NewCollector()
//	reg.MustRegister(col)
//	client, err := jobs.NewClient(db, &jobs.Config{Observer: col})
//
// Every statement gives its parameters in types whose text form is what
// the column holds (JSON as a string cast to jsonb, never []byte) and
// casts those whose type PostgreSQL cannot infer, so the package works in
// each of pgx's query modes, default_query_exec_mode=exec and
// simple_protocol included.
//
// # Behind a connection pooler
//
// Every statement is a transaction of its own, so the package works
// through PgBouncer in transaction mode (with default_query_exec_mode=exec
// or simple_protocol in the pool's URL: the pooler cannot keep pgx's
// prepared statements; a client that finds its pool behind a pooler in
// another mode says so in the log). Only the client's listener needs a
// session: give the server's own connection settings as Config.Direct and
// it LISTENs there. Without Direct, a client whose pool goes through a
// pooler (Start checks, by comparing the backend's process id with the one
// the connection was given) runs without a listener and says so once in
// the log: it looks for work every PollInterval (50 ms by default then)
// and sees a cancel at its next heartbeat (HeartbeatInterval) rather than
// within a second. Leader election is a lease row and needs no session.
//
// Leases, backoff and retention follow Config.Now, so tests can move a
// fake clock; [Enqueue], which takes no client, stamps run-at times with
// the wall clock, so such a test sets EnqueueOpts.RunAt from its clock.
// Workers' clocks should agree (NTP), as they are compared through the
// database. Leader election uses the database clock.
package jobs
