// Package lint finds migration statements that hurt a live PostgreSQL
// service: locks that stop traffic, rewrites of whole tables, and changes
// that break the version still running during a rolling deploy.
//
// It parses SQL with PostgreSQL's own parser (pg_query_go, which links the
// server's parser through cgo). That is why only the seatbelt CLI and tests
// import this package; a service imports migcheck, which never imports lint.
//
// # Use
//
// In CI, run the CLI:
//
//	seatbelt migrate lint --dir migrations
//
// or lint from a service's own tests with [Test]:
//
//	func TestMigrationsAreSafe(t *testing.T) {
//		lint.Test(t, migrations.FS, &lint.Config{RunnerSetsLockTimeout: true})
//	}
//
// [Dir] lints a golang-migrate folder (NNNN_name.up.sql files in version
// order), [Set] a migcheck.Set such as a library's own migrations, and
// [Files] lints loose files; both return a [Result] holding every
// [Finding] and every [ParseError].
//
// # New tables
//
// Most rules are about tables that already hold data and serve traffic. A
// table created by a statement that has not reached production yet is new:
// nothing reads it and it is empty, so indexing, constraining or dropping it
// is fine. Created earlier in the same file is always new. Created in an
// earlier file depends on [Applied]: when the database's version is known
// (the CLI's --database-url), every file above it is pending and a table
// created by one of them is new to the later ones; when it is not known, each
// earlier file is taken to be in production already.
//
// # Rules
//
// Each has a message and a safe alternative ([Rules] returns them):
//
//   - create-index-not-concurrently: CREATE INDEX on an existing table blocks its writes; use CONCURRENTLY.
//   - drop-index-not-concurrently: DROP INDEX takes ACCESS EXCLUSIVE on the table; use CONCURRENTLY.
//   - reindex-not-concurrently: REINDEX blocks writes; use REINDEX (CONCURRENTLY).
//   - concurrently-in-transaction: a CONCURRENTLY statement inside BEGIN/COMMIT, or in a file with other
//     statements (golang-migrate runs such a file as one implicit transaction, so it fails at deploy time).
//   - add-column-not-null-without-default: fails on a table with rows and breaks the old version's inserts.
//   - volatile-default: ADD COLUMN with a volatile DEFAULT (random(), gen_random_uuid(), any function not
//     known to be stable), serial, identity or a stored generated column rewrites the table.
//   - set-not-null-without-check: SET NOT NULL scans the table unless a validated CHECK (col IS NOT NULL)
//     proves it; the linter follows such CHECKs across the files of a set, applied ones included.
//   - constraint-without-not-valid: FOREIGN KEY or CHECK added without NOT VALID validates every row under a lock;
//     so does VALIDATE CONSTRAINT in the same file (one transaction) as the ADD ... NOT VALID.
//   - add-unique-without-index: UNIQUE or PRIMARY KEY added without USING INDEX builds its index under ACCESS EXCLUSIVE.
//   - change-column-type: ALTER COLUMN TYPE usually rewrites the table.
//   - rename-column: breaks the running version.
//   - rename-table: breaks the running version.
//   - drop-column: breaks the running version if it still uses the column.
//   - drop-table: breaks the running version and loses data.
//   - drop-database: never from a migration.
//   - truncate: deletes every row under ACCESS EXCLUSIVE.
//   - vacuum-full: rewrites the table under ACCESS EXCLUSIVE.
//   - cluster: rewrites the table under ACCESS EXCLUSIVE.
//   - missing-lock-timeout: a statement that takes ACCESS EXCLUSIVE on an existing table (most ALTER TABLE,
//     DROP TABLE or INDEX, TRUNCATE, RENAME, CLUSTER, LOCK TABLE) with no SET lock_timeout earlier in the file.
//     Off with [Config].RunnerSetsLockTimeout, since migcheck.Apply sets one for every migration session.
//   - index-in-migration: only with [Config].Strict: any index built on an existing table, CONCURRENTLY or
//     not, for teams whose policy is that indexes are built by hand.
//   - invalid-ignore: a seatbelt:ignore comment without a known rule or without a reason.
//
// # Ignoring a finding
//
// A comment in front of a statement silences named rules for that statement
// only, and must say why:
//
//	-- seatbelt:ignore drop-column version 41, the oldest running, no longer reads it
//	ALTER TABLE orders DROP COLUMN legacy_flag;
//
// Several rules are separated by commas. A comment without a reason, or with
// an unknown rule, silences nothing and is itself an invalid-ignore finding.
//
// # Errors
//
// A file the parser rejects is a [*ParseError] placed at path:line:col; it is
// never a panic, whatever the input (FuzzLint checks that). A badly named file
// or a duplicate version in a set is an error from [Dir] and [Set], the
// same one migcheck gives (migcheck.ErrBadFileName, migcheck.ErrDuplicateVersion).
package lint
