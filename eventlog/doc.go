// Package eventlog stores entities as append-only versioned records in
// PostgreSQL: a change inserts the next version instead of updating in
// place, so any version can be read back, a bad change can be seen and
// reverted, and other services can follow the log in order.
//
// # Set-up
//
// The tables are a migration set, [Migrations], applied with the service's
// own set so the startup Verify covers them too:
//
//	migcheck.Apply(ctx, pool, app.Migrations, eventlog.Migrations)
//	store, err := eventlog.New(pool, &eventlog.Config{Writer: os.Getenv("VERSION")})
//	app.StartupGate("event log", store.Check)
//
// A [Config] or [ConsumerConfig] that cannot work is refused with an error
// matching [ErrInvalidConfig] that names the field and what to give
// instead; zero values mean the defaults.
//
// [Store.Check] (and [Store.Verify], which lists the problems) checks what
// migcheck cannot: that the guard triggers described below are still
// there, enabled and unaltered. A table owner can drop, disable or replace
// them without an error anywhere; Check names each such change and the SQL
// that undoes it.
//
// # Writing
//
// A [Stream] is one entity, named by type and id ("order/42"); names
// longer than [MaxStreamTypeLen] or [MaxStreamIDLen] bytes, or that
// PostgreSQL text cannot hold, are refused with [ErrBadStream]. Each
// [Store.Append] adds the next versions, gapless from 1, with JSON data,
// JSON metadata and the time. JSON that PostgreSQL's jsonb cannot store
// (a \u0000 or lone surrogate escape, a number beyond numeric's range,
// invalid UTF-8) is refused with [ErrBadRecord] before anything is sent,
// so an [Store.AppendTx] caller's transaction goes on; what the server
// still refuses as jsonb (its size limits, nesting past its
// max_stack_depth) is an ErrBadRecord too.
// [AppendOpts].Expected says what the stream must be at: [AnyVersion],
// [NoStream] or [Exactly](n). A mismatch writes
// nothing and returns a [*VersionConflictError] (errors.Is
// [ErrVersionConflict]) carrying the stream, the expectation and the actual
// version. A multi-record append is one transaction: all
// or nothing. An empty append writes nothing. [NewRecord].ID makes retries
// idempotent: the same ids again return the first result, Duplicate set.
//
// [Store.AppendTx] does the same inside the caller's pgx.Tx, so an entity's
// new version commits with the caller's other writes.
//
// Appends to one stream are serialised by a transaction-level advisory
// lock on (class "evlg", hashtext(stream)); nothing is inserted without it.
// A pool append is one statement that takes the lock if it is free, reads
// the stream's head and inserts. If the lock was held, the expectation did
// not match, or a writer committed between the statement's snapshot and
// the lock (the unique (stream, version) index then refuses the stale
// version), it writes nothing and the append runs again as lock (waiting),
// then read, then insert; in READ COMMITTED the statement after the lock
// sees the previous writer's commit. [Store.AppendTx] always takes the
// second way. Appends to different streams do not wait for each other.
//
// Pool appends made at the same time share a commit. At most two
// statements of a Store are in flight: an append made while fewer are
// goes out at once; appends made while both are busy wait for the next
// free one, which sends them together as one statement, one stream each,
// each with its own expectation. The cost of a single-record append is
// mostly its transaction (round trip, xid, commit record, WAL flush), so
// under load this is what lets appends, which also read the head, keep up
// with plain INSERTs. Callers stay independent: the shared statement never
// waits for a stream's lock, and any append it did not write (lock busy,
// expectation not met, or the statement failed as a whole, say on a
// stored record id) runs again alone as above and gets its own answer.
// Records that shared a commit share an xid; consumers still see them in
// position order.
//
// The database holds these rules for every writer, not only this package.
// Triggers reject UPDATE, DELETE and TRUNCATE: history cannot be
// rewritten, only added to. After each INSERT statement a trigger checks
// the rows it added, in one query, and fails the statement with
// check_violation if a version leaves a gap, a recorded_at is not the
// database clock's during the insert (or is earlier than the previous
// version's), or an xid is not the inserting transaction's; a taken
// version is refused by the unique (stream, version) index. So a script
// cannot skip versions, date a record with its own clock or slip past
// consumers; leaving recorded_at and xid to their defaults always passes.
// Several versions of one stream in one multi-row INSERT work when
// inserted in version order.
//
// # Reading and repair
//
// [Store.Latest], [Store.Version], [Store.AsOf] (the newest version whose
// Time is at or before t) and [Store.History] (paged, oldest or newest
// first). A record's Time is the database clock when it was inserted, never
// earlier than the previous version's (the INSERT check holds every writer
// to this), so as-of reads are monotonic per stream. (PostgreSQL does not
// expose a transaction's commit time unless track_commit_timestamp is on,
// so Time is the insert time inside the writing transaction.)
//
// A stream's name written "type/id" is ambiguous when the type holds a
// slash, as an id may: [ParseStream] takes the first slash, and
// [Store.FindStream] takes the reading the log has, for names an operator
// types.
//
// The log needs no snapshots: every record is a whole version, so the
// current state of a stream of 100,000 versions is one index probe
// (Latest), any version another (Version), and AsOf bisects the versions,
// a few dozen probes, since versions are gapless and their times never go
// back.
//
// [Store.ReadCategory] reads the records of every stream of one type after
// a [Cursor], in the order consumers see them (commit order, behind the
// same fence), a page at a time: for ad hoc replays and audits.
//
// [Store.Revert] appends a new version equal to an old one, its metadata
// gaining {"eventlog_revert": {"to_version", "from_version"}} and its
// RevertOf set; reverting to 0 appends JSON null.
//
// Every record carries its [Provenance]: the writer (the build: Config.Writer,
// by default the module's VCS revision, see [DefaultWriter]), the trace and
// span id of the span in the append's context, and the caller's actor and
// reason. [Store.WriterChanges] lists the streams a writer changed since a
// time; [Store.RevertWriter] reverts each to its version before that
// writer's first change, skipping and reporting streams that another writer
// changed afterwards unless forced. That is the recovery for "the 4 AM
// deploy wrote bad records"; the CLI offers it as
// `seatbelt eventlog revert-writer`, with --dry-run. It reads the records
// written since the time through a BRIN index on the insert time, so its
// cost follows how far back it looks; writes pay almost nothing for it.
//
// # Consumers
//
// A [Consumer] ([Store.NewConsumer]) delivers every committed record to a
// [Handler], in one global order, and stores its checkpoint in the same
// transaction as the handler's writes: a crash between handling and
// checkpoint rolls both back and the records come again, so the handler's
// database effects happen once. Run it in every replica: one instance per
// name is active (it holds a session advisory lock on a 64-bit hash of the
// name, on a connection of its own; two names share a lock once in about
// 2^32 pairs), the others are standbys that try the lock every
// TakeoverPoll. When the active process dies, PostgreSQL
// ends its session and drops the lock, and a standby takes over within
// TakeoverPoll. The active instance LISTENs on channel "eventlog" and also
// polls every PollInterval, so a lost notification only costs latency. A
// failing handler is retried with exponential backoff; after MaxAttempts
// Run returns a [*HandlerError] naming the record, with the checkpoint just
// before it.
//
// [Store.Consumers] reports each consumer's lag in records (up to
// [MaxLagCount]) and seconds; package eventlogprom exports it as
// Prometheus metrics.
//
// # Consumer groups
//
// One consumer is one reader: its handler's throughput is the
// projection's. A consumer group ([Store.NewGroup]) splits the work: its
// name has a fixed number of partitions, every stream belongs to one
// (partition = PostgreSQL's hashtextextended(type || '/' || id, 0), made
// non-negative, modulo the count: the hash behind its hash partitioning
// and hash indexes, kept stable across versions and pg_upgrade), and each
// partition has its own checkpoint, written in the handler's transaction
// as a consumer's is. Run the group in every replica, with as many
// members per process as wanted; the live members share the partitions
// and each partition is handled by one member at a time, so each
// stream's records come in order, each once. Records of different
// streams come in no order across partitions, and handlers run in
// parallel across them: a handler that reads and writes a row shared by
// streams of different partitions (a total, a summary fed by several
// streams) must lock it (SELECT ... FOR UPDATE, or an UPDATE that adds
// in place) or it loses updates. It is a constructor of its
// own, not a ConsumerConfig field: the partition count is part of the
// group's identity, not a tuning knob with a default; a member started
// with another count is refused (ErrInvalidConfig, naming both), since
// streams would move between partitions whose checkpoints would then
// skip or repeat their records; to change it, run a new group name, which
// starts from the beginning of the log. A consumer and a group cannot
// share a name.
//
// Each member renews a lease row every TakeoverPoll (eventlog_group_members)
// and counts the live members: those whose lease (ConsumerConfig.Lease,
// 10 s by default) has not run out and whose session, if they have one,
// the server still has, so a killed member is noticed at the next
// TakeoverPoll and one cut off within a Lease. A member frozen (a stopped
// process, a paused VM) or cut off keeps its session in the server, and
// its partitions' locks with it, until TCP keepalive gives up, which can
// take hours: so the lease row names the member's session (pid and
// backend_start), and a live member ends (pg_terminate_backend) the
// session of a member whose lease ran out, and the backend of any batch
// of it still running (each batch holds a transaction advisory lock named
// for its member, which the others find in pg_locks), so a member frozen
// mid-batch does not hold its checkpoints' row locks either, even with a
// statement running or the server blocked writing to it. Its partitions
// move within a Lease and a TakeoverPoll or two. Ending another member's
// session needs the members to run as one role, or a role with
// pg_signal_backend and pg_read_all_stats (to tell that session from
// another with the same pid); without them a member logs an error, every
// TakeoverPoll while the frozen member's session lives (its lease row is
// kept until then), and the frozen member's partitions wait for its
// session to end. The server also ends a batch's transaction left idle
// longer than the Lease (idle_in_transaction_session_timeout): a handler
// call that does slow work outside the database with the transaction
// open fails on its record with a [*HandlerError] saying so, and calls
// that do a little each, longer than the Lease together, make the member
// take fewer records at a time (a warning says so), and as few until many
// full batches have succeeded at that size. A member that wakes
// finds its session gone and starts again; what it had handled in an
// open batch rolled back. Each rebalance also asks the member's session
// which partition locks it holds, so a member whose session died stops
// batching partitions it no longer holds within a TakeoverPoll. With n members and p
// partitions each holds p/n, and p%n of them one more; a member holding
// the one more gives it up while another holds fewer than p/n. A member
// holds a partition by a session advisory lock on a 64-bit hash of the
// group's name and the partition (two partitions of any groups share a
// lock once in about 2^32 pairs, and then are not held at once), taken
// and given up between batches, so when
// a member joins (a deploy's new pods) the others release partitions
// within a TakeoverPoll or two of seeing it, and when one leaves (Run
// returns) or dies (its session ends) the others take its partitions at
// their next TakeoverPoll. Without a session (behind a pooler with no
// Config.Direct) the members split the partitions by their order in the
// lease table instead. Either way a batch locks its partition's
// checkpoint row and checks it did not move, as a consumer's does, so
// two members that both believe they hold a partition (one about to
// learn it lost it) take turns, and a member killed mid-batch rolls back
// its handler's writes with its checkpoint.
//
// A member's batch handles the partitions it holds in one transaction:
// it reads the log in the consumers' order from the earliest of their
// checkpoints, behind the same ordering fence (below), a window of at most
// BatchSize x partitions / held records of any partition, and keeps the
// records of its partitions after each one's checkpoint. The fence is the
// server's oldest running transaction, the same for every partition, so
// no partition delivers a record while a transaction that could still add
// one before it runs. The checkpoints then move past the last record
// handled or, when the window held fewer than BatchSize of the member's,
// past the last record of the window below the fence: nothing can appear
// before that later, so a partition with few records does not read the
// others' again. The cost is that each member's reads pass over the other
// members' records (in the server: only its own are sent to it), about
// members x the log read in all.
//
// A handler that keeps failing on a record stops its member as it stops a
// consumer (a [*HandlerError]), with the member's partitions' checkpoints
// just before the record. One such record (a poison record) stops the
// whole group, not only its partition: the member's batch holds all its
// partitions, so its other partitions stop with it; when it returns, the
// other members take its partitions, reach the record in turn, and stop
// too, until no member runs. Alert on it (examples/orders' alert
// OrdersConsumerPartitionStalled fires when a partition, or the whole
// group, handles nothing while records wait), and fix the handler or the
// data; the group goes on from the record when its members run again.
//
// [Store.Consumers] lists a group as a row per partition (Partition,
// Partitions set) with its lag, and eventlogprom labels them by
// partition. It reads a group's lag once for all its partitions, from
// the earliest of their checkpoints, in one query for every group
// ([ConsumerStatus] LagRecords says how it is capped). [Store.Rebuild] does not support groups yet.
//
// # Rebuilding a read model
//
// A projection that was wrong (a bug skipped records, a column was added)
// is fixed by [Store.Rebuild]: deploy the fixed handler, then replay the
// whole log into a new read model beside the live one ([RebuildOpts]:
// Prepare creates it, Handle writes a batch into it) while the live
// consumer keeps serving and handling new records, and switch atomically
// (Switch, in the transaction that hands the rebuild's checkpoint to the
// live consumer, whose batches wait on that checkpoint's lock). The
// rebuild keeps its own checkpoint ([RebuildPrefix] + the consumer's name,
// listed by Store.Consumers with its lag), so a rebuild killed or stopped
// resumes where it was; [Store.CancelRebuild] abandons one. While one
// batch is written, the next is read on a second connection of the pool,
// so a rebuild uses two (with one, it reads and writes in turn), beside
// the live consumer's; its writes still commit with its checkpoint.
//
// # Behind a connection pooler
//
// Appends and reads are single transactions and work through PgBouncer in
// transaction mode (with default_query_exec_mode=exec or simple_protocol
// in the pool's URL; cache_describe works too). In those modes nothing is
// kept prepared on the server, so a Store calls PL/pgSQL functions
// (migration 0005) whose bodies are its append statements: the server
// keeps their plans per connection, where it would otherwise plan every
// append again (see functions.go). The consumer's lock and LISTEN need a session, which
// such a pooler does not keep: give the server's own connection settings
// as Config.Direct, and each active consumer holds its session there
// (one connection per running consumer); one that reaches another
// database or server than the pool's is refused when the consumer
// starts. Without Direct, a consumer whose
// pool goes through a pooler (it checks when it starts) does without a
// session and says so once in the log: every instance is active, looks for
// records every PollInterval (100 ms by default then), and the instances
// take turns batch by batch under the checkpoint's row lock, so each record
// is still handled once and in order; OnActive is called when it starts.
//
// # The ordering fence
//
// Positions come from an identity column, assigned when a row is inserted,
// but transactions commit in another order: T1 takes position 10 and is
// still open when T2 takes 11 and commits. A consumer that reads "position
// > checkpoint" sees 11, moves its checkpoint past 10, and when T1 commits
// record 10 is skipped for ever.
//
// So each record also stores the id of its writing transaction,
// pg_current_xact_id() (a 64-bit xid8 that never wraps; the top-level id
// even inside a savepoint), and consumers read in (xid, position) order,
// delivering only rows whose xid is below the fence: the snapshot's xmin,
// pg_snapshot_xmin(pg_current_snapshot()), but for the transactions of
// other databases on the server. Every transaction of this database older
// than the fence has finished, committed or rolled back, and every one
// still running or yet to start has an xid at or above it. The set of records below the fence is therefore final when
// read, and any record that appears later sorts after every record already
// delivered. Nothing is skipped and nothing is reordered, without timeouts
// or gap detection. The read goes through the index on (xid, position).
//
// The price: delivery waits for the oldest transaction of the database
// that holds an xid. A record is delivered once every transaction of the
// database that took an xid before it has ended, so a long-running writing
// transaction in the service's database delays consumers (never loses
// records). Keep writing transactions short. xids are cluster-wide, and the
// snapshot lists every database's; a transaction that pg_stat_activity
// shows connected to another database cannot write here, so it is left out
// of the fence, and a neighbour's long batch job on a shared server holds
// nothing back. (One that pg_stat_activity does not show, such as a
// prepared transaction, is kept in: the fence only leaves out what is
// known to write elsewhere.) The order is by transaction start, not
// by commit; records of one transaction are delivered together, by
// position.
//
// Two details keep delivery prompt. A transaction's own xid is the xmin of
// its own snapshot, so a batch reads its records before it takes an xid
// (it locks the checkpoint row afterwards and starts again if another
// instance moved it). And records held back by the fence were announced by
// a NOTIFY already consumed, so while the read shows some, the consumer
// looks again after 1 ms, doubling up to PollInterval, instead of waiting
// for the next NOTIFY.
//
// # Notifications
//
// NOTIFY in a transaction takes a global lock at commit that is held
// through the WAL flush, so every notifying transaction commits alone. Pool
// appends ([Store.Append]) therefore commit without it, and a notifier
// sends one NOTIFY at a time afterwards, at most one per
// Config.NotifyInterval, folding the requests made meanwhile into the next.
// [Store.AppendTx] cannot know when the caller commits, so it queues the
// NOTIFY in the caller's transaction.
//
// # Observability
//
// Config.TracerProvider (by default otel.GetTracerProvider(), so a service
// that sets up OpenTelemetry gets them without wiring) makes a span per
// append ("eventlog.append") and per consumer batch ("eventlog.consume"),
// from the tracer named "github.com/seatbelt-go/seatbelt/eventlog". Lag
// metrics: package eventlogprom. Logs go to Config.Logger.
package eventlog
