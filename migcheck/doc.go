// Package migcheck makes golang-migrate safe to run from CI and checkable at
// startup: one runner at a time without blocking locks, timeouts on table
// locks, a ledger of checksums, and a read-only Verify that lists every
// problem.
//
// # Sets
//
// A [Set] is a name, an fs.FS of golang-migrate files (NNNN_name.up.sql and
// NNNN_name.down.sql) and its own version table. A service's migrations are
// one set; library packages that own tables export theirs, so one call sets
// up everything:
//
//	res, err := migcheck.Apply(ctx, pool, app, eventlog.Migrations, jobs.Migrations)
//
// Badly named files and duplicate versions are errors ([ErrBadFileName],
// [ErrDuplicateVersion]), never skipped. [ParseFileName] and [Checksum] are
// the two rules used.
//
// # Apply
//
// [Migrator.Apply] (or [Apply] with the default [Config]) is the CI or
// init-job step. It opens a session of its own (application_name starting
// with [AppNamePrefix]), waits for another runner by polling
// pg_try_advisory_lock on [LockKey] in it, refuses to run on a dirty
// database, edited, missing or out-of-order files, or versions applied
// without a ledger entry ([ErrRefused]), calls
// Config.BeforeApply (take a backup), then has golang-migrate run each
// pending migration in that same session, with lock_timeout and
// statement_timeout set by SET.
//
// What a kill -9 of the runner leaves behind:
//
//   - The session that holds the lock runs the migration. PostgreSQL goes on
//     with a statement whose client died until the statement ends, and that
//     backend still holds the lock: another runner waits for it, and Verify
//     reports it ([KindMigrating], [Report.Runner]) with its pid and how to
//     end it (pg_terminate_backend).
//   - A file that runs in one transaction commits together with its version
//     and its ledger row: it is applied and recorded, or none of it is. Such
//     a file never leaves the set dirty; when it fails, the set stays at the
//     version before it, and a failure on lock_timeout (SQLSTATE 55P03) is
//     run again with backoff.
//   - A file that cannot run in one transaction, because a statement of it
//     begins CREATE INDEX CONCURRENTLY (or another CONCURRENTLY form),
//     COMMIT, VACUUM, ALTER SYSTEM or CREATE DATABASE (such a word in a
//     comment or a string does not count), runs one statement at a time
//     ([SplitStatements]), marks the set dirty first, and records each
//     statement as it completes. If it stops part-way the set stays dirty,
//     and Verify says which statements are known to have run and which one
//     may have run in part, and gives a fix that, followed as written, runs
//     no statement twice.
//
// Each applied migration is written to the ledger table: set, version,
// file, SHA-256, when, host, build, duration. A failure returns a
// [*MigrationError] naming the set, version, file, line and column and
// saying what to do. Messages name the operation to run next
// ([Migrator.Force], [Migrator.Apply], [Migrator.Baseline]); a CLI puts its
// own command lines there with Config.Hint. [Migrator.Force] refuses a
// version the set has no file for unless [ForceOpts].AllowMissing, and
// records the version it sets in the ledger in the same transaction.
//
// The ledger is what tells an applied version from a file added late: a
// version below a recorded one without a ledger row is out-of-order. So
// versions applied without one (by plain golang-migrate) must be recorded
// by [Migrator.Baseline] before anything is applied above them, and Apply
// refuses until they are. A database that got a version recorded above
// them anyway (before these rules) reports them out-of-order; only the
// operator knows whether such a version ran, and [BaselineOpts].Applied
// records the ones that did.
//
// A zero field of [Config] takes the default its comment gives (10 minutes
// of LockWait, a 5-second lock_timeout, no statement_timeout, ...). A field
// [New] cannot use, such as a negative duration, is an error wrapping
// [ErrInvalidConfig] that names every such field.
//
// # Verify
//
// [Migrator.Verify] is the startup check. It only reads, takes no lock and
// returns within its context. Its [Report] lists every [Problem]: pending
// versions, dirty, a migration running, no version table, an applied file
// whose content changed, an applied version the binary lacks, a file below
// the applied version that never ran, versions applied without a ledger
// entry (recorded by [Migrator.Baseline]), invalid indexes left by a failed
// CREATE INDEX CONCURRENTLY (one being built right now is info, with the
// builder's pid), and a database ahead of the binary (info unless
// Config.AheadIsError). [Report.Err] returns a [*VerifyError] that matches
// each problem's sentinel with errors.Is.
//
// [Migrator.Check] has the shape of a startup gate, func(ctx) error; the
// graceful package polls it until the migration job has run. The
// migcheck/migprom package exports applied and expected versions as
// Prometheus gauges, so services that do not use Prometheus do not link it.
//
// # Indexes
//
// An index on a large table is built by hand, not by a migration. A service
// declares its indexes in an [IndexSet]: a folder beside its migrations, one
// file per index named for it (orders_customer_id.sql), holding one CREATE
// [UNIQUE] INDEX CONCURRENTLY statement ([ParseIndexFile] says what is
// wrong with one that is not). An [Indexer] builds them:
//
//	x, _ := migcheck.NewIndexer(pool, nil, migcheck.IndexSet{FS: indexes})
//	rep, _ := x.Status(ctx)       // valid, missing, invalid, building, different
//	res, err := x.Apply(ctx, nil) // build what is missing, one at a time
//
// [Indexer.Apply] takes [IndexLockKey] so builders take turns, runs each
// build outside any transaction in a session of its own, reports beforehand the
// transactions older than Config.OldTransaction the build will wait for,
// reports progress from pg_stat_progress_create_index, drops and rebuilds an
// INVALID index of a declared name (never another), and records each attempt
// in Config.IndexLedgerTable. A definition that differs from its file is
// reported; [IndexApplyOpts].Replace builds the new one under a temporary
// name, swaps the names in one short transaction and drops the old one.
// What a kill -9 leaves at each point is in [Indexer.Apply].
//
// With Config.Indexes set, Verify reports a declared index that is missing
// or INVALID as a warning ([KindIndexMissing], [KindInvalidIndex]): the
// service runs without it, slowly. migprom exports it as a gauge.
//
// For tests, migcheck/migtest gives each test its own migrated database.
package migcheck
