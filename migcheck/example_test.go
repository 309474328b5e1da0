package migcheck_test

import (
	"context"
	"errors"
	"fmt"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func ExampleParseFileName() {
	fn, err := migcheck.ParseFileName("0003_add_email.up.sql")
	fmt.Println(fn.Version, fn.Name, fn.Up, err)
	_, err = migcheck.ParseFileName("0003_add_email.up.sq")
	fmt.Println(errors.Is(err, migcheck.ErrBadFileName))
	// Output:
	// 3 add_email true <nil>
	// true
}

func ExampleApply() {
	db, done := exampleDB()
	defer done()
	app := migcheck.Set{Name: "app", FS: fstest.MapFS{
		"0001_users.up.sql": {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY);")},
	}}
	events := migcheck.Set{Name: "eventlog", Table: "eventlog_schema_migrations", FS: fstest.MapFS{
		"0001_events.up.sql": {Data: []byte("CREATE TABLE events (id bigint PRIMARY KEY);")},
	}}
	res, err := migcheck.Apply(context.Background(), db, app, events)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range res.Applied {
		fmt.Println(a.Set, a.Version, a.File)
	}
	// Output:
	// app 1 0001_users.up.sql
	// eventlog 1 0001_events.up.sql
}

func ExampleMigrator_Verify() {
	db, done := exampleDB()
	defer done()
	app := migcheck.Set{Name: "app", FS: fstest.MapFS{
		"0001_users.up.sql": {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY);")},
	}}
	migcheck.Apply(context.Background(), db, app)
	// The binary now has an edited file 1 and a new file 2.
	app.FS = fstest.MapFS{
		"0001_users.up.sql":  {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY, email text);")},
		"0002_orders.up.sql": {Data: []byte("CREATE TABLE orders (id bigint PRIMARY KEY);")},
	}
	m, _ := migcheck.New(db, &migcheck.Config{Logger: discard()}, app)
	report, err := m.Verify(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range report.Problems {
		fmt.Println(p.Severity, p.Kind, p.Version, p.File)
	}
	fmt.Println(errors.Is(m.Check(context.Background()), migcheck.ErrChecksumMismatch))
	// Output:
	// error pending 2 0002_orders.up.sql
	// error checksum-mismatch 1 0001_users.up.sql
	// true
}

// Check is the startup gate: graceful polls it until it returns nil, so a
// pod started before the migration job finished waits instead of serving.
func ExampleMigrator_Check() {
	db, done := exampleDB()
	defer done()
	app := migcheck.Set{Name: "app", FS: fstest.MapFS{
		"0001_users.up.sql": {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY);")},
	}}
	m, _ := migcheck.New(db, &migcheck.Config{Logger: discard()}, app)
	var gate func(context.Context) error = m.Check

	err := gate(context.Background())
	fmt.Println(errors.Is(err, migcheck.ErrNoVersionTable))
	m.Apply(context.Background()) // the migration job
	fmt.Println(gate(context.Background()))
	// Output:
	// true
	// <nil>
}
