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
// init-job step. It waits for another runner by polling
// pg_try_advisory_lock on [LockKey], refuses to run on a dirty database or
// edited, missing or out-of-order files ([ErrRefused]), calls
// Config.BeforeApply (take a backup), then runs each pending migration with
// golang-migrate in sessions that carry lock_timeout and statement_timeout.
// A migration that fails on lock_timeout (SQLSTATE 55P03) and ran in one
// transaction is run again with backoff. Each applied migration is written
// to the ledger table: set, version, file, SHA-256, when, host, build,
// duration. A failure returns a [*MigrationError] naming the set, version,
// file, line and column, saying the database is dirty, and giving the
// command that recovers ([Migrator.Force]).
//
// # Verify
//
// [Migrator.Verify] is the startup check. It only reads, takes no lock and
// returns within its context. Its [Report] lists every [Problem]: pending
// versions, dirty, a migration running, no version table, an applied file
// whose content changed, an applied version the binary lacks, a file below
// the applied version that never ran, versions applied without a ledger
// entry (fixed by [Migrator.Baseline]), invalid indexes left by a failed
// CREATE INDEX CONCURRENTLY, and a database ahead of the binary (info unless
// Config.AheadIsError). [Report.Err] returns a [*VerifyError] that matches
// each problem's sentinel with errors.Is.
//
// [Migrator.Check] has the shape of a startup gate, func(ctx) error; the
// graceful package polls it until the migration job has run. The
// migcheck/migprom package exports applied and expected versions as
// Prometheus gauges, so services that do not use Prometheus do not link it.
//
// For tests, migcheck/migtest gives each test its own migrated database.
package migcheck
