package lint

// Rule describes one check: its name (used in output and in
// "-- seatbelt:ignore <rule> <reason>"), what goes wrong, and the safe way to
// get the same result.
type Rule struct {
	// Name is the kebab-case identifier printed with each finding.
	Name string
	// Message says what the statement does to a live service.
	Message string
	// Hint is the safe alternative.
	Hint string
}

// Rule names. Each is documented in the package doc and in [Rules].
const (
	CreateIndexNotConcurrently = "create-index-not-concurrently"
	DropIndexNotConcurrently   = "drop-index-not-concurrently"
	ReindexNotConcurrently     = "reindex-not-concurrently"
	ConcurrentlyInTransaction  = "concurrently-in-transaction"
	AddColumnNotNullNoDefault  = "add-column-not-null-without-default"
	VolatileDefault            = "volatile-default"
	SetNotNull                 = "set-not-null-without-check"
	ConstraintWithoutNotValid  = "constraint-without-not-valid"
	AddUniqueWithoutIndex      = "add-unique-without-index"
	ChangeColumnType           = "change-column-type"
	RenameColumn               = "rename-column"
	RenameTable                = "rename-table"
	DropColumn                 = "drop-column"
	DropTable                  = "drop-table"
	DropDatabase               = "drop-database"
	Truncate                   = "truncate"
	VacuumFull                 = "vacuum-full"
	Cluster                    = "cluster"
	MissingLockTimeout         = "missing-lock-timeout"
	IndexInMigration           = "index-in-migration"
	InvalidIgnore              = "invalid-ignore"
)

var rules = []Rule{
	{CreateIndexNotConcurrently,
		"CREATE INDEX without CONCURRENTLY blocks every write to the table until the index is built",
		"use CREATE INDEX CONCURRENTLY, alone in its own migration file"},
	{DropIndexNotConcurrently,
		"DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait",
		"use DROP INDEX CONCURRENTLY, alone in its own migration file"},
	{ReindexNotConcurrently,
		"REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index, until it finishes",
		"use REINDEX (CONCURRENTLY) ..., alone in its own migration file"},
	{ConcurrentlyInTransaction,
		"a CONCURRENTLY statement cannot run inside a transaction; golang-migrate sends a file with several statements as one implicit transaction, so this fails at deploy time",
		"move the CONCURRENTLY statement into a migration file of its own, without BEGIN/COMMIT"},
	{AddColumnNotNullNoDefault,
		"adding a NOT NULL column without a default fails on a table that has rows, and breaks inserts from the version still running",
		"add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, then SET NOT NULL after a validated CHECK"},
	{VolatileDefault,
		"a volatile default (or serial, identity, stored generated column) rewrites the whole table under an ACCESS EXCLUSIVE lock",
		"add the column without a default (or with a constant one), set the default in a later statement, and backfill existing rows in batches"},
	{SetNotNull,
		"SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock unless a validated CHECK (col IS NOT NULL) already proves it",
		"ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; in a later migration VALIDATE CONSTRAINT c, SET NOT NULL (no scan) and DROP CONSTRAINT c"},
	{ConstraintWithoutNotValid,
		"validating a FOREIGN KEY or CHECK constraint while holding the lock that adding it took scans every row with writes blocked",
		"add it with NOT VALID (new rows are checked at once), then VALIDATE CONSTRAINT in a later migration file: outside the adding transaction it does not block writes"},
	{AddUniqueWithoutIndex,
		"adding a UNIQUE or PRIMARY KEY constraint builds its index under an ACCESS EXCLUSIVE lock",
		"CREATE UNIQUE INDEX CONCURRENTLY first, in its own migration, then ADD CONSTRAINT ... UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)"},
	{ChangeColumnType,
		"changing a column's type usually rewrites the table under an ACCESS EXCLUSIVE lock, and the version still running may not understand the new type",
		"add a new column, write to both, backfill in batches, switch reads, then drop the old column; ignore with a reason only for changes known not to rewrite (varchar(n) to text or a wider varchar)"},
	{RenameColumn,
		"renaming a column breaks the version of the service that is still running and uses the old name",
		"add the new column, write to both, backfill, switch reads, and drop the old column once no running version uses it"},
	{RenameTable,
		"renaming a table breaks the version of the service that is still running and uses the old name",
		"create the new table (or a view with the old name over the renamed table) so both versions work during the rollout"},
	{DropColumn,
		"dropping a column breaks the version that is still running if it reads or writes the column",
		"first deploy a version that no longer uses the column, then drop it in a later migration and ignore this finding with that reason"},
	{DropTable,
		"dropping a table breaks the version that is still running if it uses the table, and loses its data for good",
		"first deploy a version that no longer uses the table, then drop it in a later migration and ignore this finding with that reason"},
	{DropDatabase,
		"dropping a database from a migration destroys every table in it",
		"drop databases by hand, never from a migration"},
	{Truncate,
		"TRUNCATE deletes every row and takes an ACCESS EXCLUSIVE lock on the table",
		"delete in batches with DELETE ... WHERE, or ignore with a reason if the table is truly disposable"},
	{VacuumFull,
		"VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes",
		"use plain VACUUM, or pg_repack / pg_squeeze to compact without a long lock, run by hand"},
	{Cluster,
		"CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes",
		"run pg_repack by hand instead of CLUSTER in a migration"},
	{MissingLockTimeout,
		"this statement takes an ACCESS EXCLUSIVE lock on an existing table without a lock_timeout; while it waits behind a long query, every other query on the table queues behind it",
		"put SET lock_timeout = '5s'; at the top of the file (or let the runner set it, as migcheck.Apply does, and lint with RunnerSetsLockTimeout)"},
	{IndexInMigration,
		"strict mode: indexes on existing tables are built by hand, CONCURRENTLY, not by a migration",
		"declare it in the service's indexes folder instead (indexes/NAME.sql holding CREATE INDEX CONCURRENTLY NAME ON ...) and build it with seatbelt index apply --dir indexes after migrate up; see migcheck.IndexSet"},
	{InvalidIgnore,
		"a seatbelt:ignore comment must name a known rule and give a reason",
		"write -- seatbelt:ignore <rule> <why this is safe here>"},
}

var ruleByName = func() map[string]Rule {
	m := make(map[string]Rule, len(rules))
	for _, r := range rules {
		m[r.Name] = r
	}
	return m
}()

// Rules returns every rule, in the order the package doc lists them.
func Rules() []Rule {
	return append([]Rule(nil), rules...)
}
