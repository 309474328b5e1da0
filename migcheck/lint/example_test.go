package lint_test

import (
	"fmt"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

// Lint a migration set. The table is created by a migration the database
// has not run yet, so indexing it in the next file is fine; the ALTER on the
// table already in production is not.
func ExampleDir() {
	migrations := fstest.MapFS{
		"0001_orders.up.sql":   {Data: []byte("CREATE TABLE orders (id bigint PRIMARY KEY);")},
		"0002_refunds.up.sql":  {Data: []byte("CREATE TABLE refunds (id bigint, order_id bigint);")},
		"0003_indexes.up.sql":  {Data: []byte("CREATE INDEX refunds_order_idx ON refunds (order_id);")},
		"0004_currency.up.sql": {Data: []byte("SET lock_timeout = '5s';\nALTER TABLE orders ADD COLUMN currency text NOT NULL;")},
	}
	res, err := lint.Dir(migrations, &lint.Config{
		Applied: lint.Applied{Known: true, Version: 1}, // 0001 is in production
	})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Findings {
		fmt.Println(f)
		fmt.Println("  hint:", f.Hint)
	}
	// Output:
	// 0004_currency.up.sql:2:1: add-column-not-null-without-default: "orders.currency": adding a NOT NULL column without a default fails on a table that has rows, and breaks inserts from the version still running
	//   hint: add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, then SET NOT NULL after a validated CHECK
}

// Lint loose files, each on its own.
func ExampleFiles() {
	fsys := fstest.MapFS{
		"hotfix.sql": {Data: []byte("-- seatbelt:ignore drop-column v41 no longer reads it\nALTER TABLE orders DROP COLUMN legacy;")},
	}
	res, err := lint.Files(fsys, []string{"hotfix.sql"}, &lint.Config{RunnerSetsLockTimeout: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Findings), "findings in", res.Files)
	// Output:
	// 0 findings in [hotfix.sql]
}

// printT stands in for *testing.T, which is what a service passes.
type printT struct{}

func (printT) Helper()                           {}
func (printT) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// Fail a service's "go test" on an unsafe migration.
func ExampleTest() {
	migrations := fstest.MapFS{
		"0001_orders.up.sql": {Data: []byte("CREATE INDEX orders_created_idx ON orders (created_at);")},
	}
	// In a service: lint.Test(t, migrations, nil)
	lint.Test(printT{}, migrations, nil)
	// Output:
	// 0001_orders.up.sql:1:1: create-index-not-concurrently: index "orders_created_idx" on "orders": CREATE INDEX without CONCURRENTLY blocks every write to the table until the index is built
	// 	hint: use CREATE INDEX CONCURRENTLY, alone in its own migration file
	// 	or, if it is safe here: -- seatbelt:ignore create-index-not-concurrently <why>
}

func ExampleRules() {
	for _, r := range lint.Rules()[:3] {
		fmt.Println(r.Name)
	}
	// Output:
	// create-index-not-concurrently
	// drop-index-not-concurrently
	// reindex-not-concurrently
}

// Lint a migcheck.Set, such as the one a library exports for its own tables.
func ExampleSet() {
	jobs := migcheck.Set{
		Name:  "jobs",
		Table: "jobs_schema_migrations",
		FS: fstest.MapFS{
			"0001_jobs.up.sql":  {Data: []byte("CREATE TABLE jobs (id bigint PRIMARY KEY, state text);")},
			"0002_state.up.sql": {Data: []byte("SET lock_timeout = '5s';\nALTER TABLE jobs RENAME COLUMN state TO stage;")},
		},
	}
	res, err := lint.Set(jobs, &lint.Config{Applied: lint.Applied{Known: true, Version: 1}})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Findings {
		fmt.Println(f.Path, f.Line, f.Rule)
	}
	// Output:
	// 0002_state.up.sql 2 rename-column
}
