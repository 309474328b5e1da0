package migcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// A database migrated by plain golang-migrate has versions without ledger
// rows. Had Apply recorded a newer version above them, Verify could no
// longer tell them from files added late and would fail every start as
// out-of-order; so Apply refuses until Baseline records them.
func TestApplyRefusesWhileVersionsAreUnrecorded(t *testing.T) {
	t.Parallel()
	db := appliedDB(t)
	exec(t, db, "DELETE FROM seatbelt_migration_ledger") // as plain golang-migrate leaves it
	next := migcheck.Set{Name: "app", FS: files(
		"0001_users.up.sql", usersSQL,
		"0001_users.down.sql", "DROP TABLE users;",
		"0002_orders.up.sql", ordersSQL,
		"0003_items.up.sql", "CREATE TABLE items (id bigint);")}
	m := newMigrator(t, db, nil, next)
	_, err := m.Apply(ctx)
	if !errors.Is(err, migcheck.ErrRefused) || !errors.Is(err, migcheck.ErrUnrecorded) || !strings.Contains(err.Error(), "Migrator.Baseline") {
		t.Fatalf("apply with unrecorded versions: %v; want a refusal naming Baseline", err)
	}
	if r := verify(t, db, nil, next); r.Sets[0].Applied != 2 {
		t.Fatalf("a refused apply changed the version: %+v", r.Sets[0])
	}
	if rec, err := m.Baseline(ctx, nil); err != nil || len(rec) != 2 {
		t.Fatalf("baseline: %+v %v", rec, err)
	}
	if res, err := m.Apply(ctx); err != nil || len(res.Applied) != 1 {
		t.Fatalf("apply after baseline: %+v %v", res, err)
	}
	if r := verify(t, db, nil, next); len(r.Problems) != 0 {
		t.Fatalf("after baseline and apply: %+v", r.Problems)
	}
}

// The documented recovery of a dirty set, complete the file by hand then
// force its version, leaves the version recorded, so the next migration
// applied above it does not make it out-of-order.
func TestForceRecordsTheVersionCompletedByHand(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	fsys := files(
		"0001_t.up.sql", "CREATE TABLE t (a int);",
		"0002_idx.up.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);\nUPDATE t SET nope = 1;\n")
	set := migcheck.Set{Name: "app", FS: fsys}
	m := newMigrator(t, db, nil, set)
	if _, err := m.Apply(ctx); err == nil {
		t.Fatal("the failing migration applied")
	}
	exec(t, db, "ALTER TABLE t ADD COLUMN nope int") // complete it by hand
	if err := m.Force(ctx, "app", 2, nil); err != nil {
		t.Fatal(err)
	}
	h, err := m.History(ctx)
	if err != nil || len(h) != 2 || h[1].Version != 2 || !h[1].Baseline || h[1].File != "0002_idx.up.sql" {
		t.Fatalf("history after force %+v %v; want version 2 recorded as applied by hand", h, err)
	}
	if err := m.Force(ctx, "app", 2, nil); err != nil {
		t.Fatal(err)
	}
	if h, _ := m.History(ctx); len(h) != 2 {
		t.Fatalf("a second force recorded the version again: %+v", h)
	}
	fsys["0003_u.up.sql"] = files("x", "CREATE TABLE u (id int);")["x"]
	m = newMigrator(t, db, nil, set)
	if res, err := m.Apply(ctx); err != nil || len(res.Applied) != 1 {
		t.Fatalf("apply after force: %+v %v", res, err)
	}
	if r := verify(t, db, nil, set); len(r.Problems) != 0 {
		t.Fatalf("after force and apply: %+v", r.Problems)
	}
}

// Force leaves its version unrecorded when one below it has no ledger row:
// recording it would make those out-of-order. Baseline then records all.
func TestForceAboveUnrecordedVersionsRecordsNothing(t *testing.T) {
	t.Parallel()
	db := appliedDB(t)
	exec(t, db, "DELETE FROM seatbelt_migration_ledger")
	m := newMigrator(t, db, nil, appSet())
	if err := m.Force(ctx, "app", 2, nil); err != nil {
		t.Fatal(err)
	}
	p := only(t, verify(t, db, nil, appSet()), migcheck.KindUnrecorded, migcheck.SeverityWarning)
	if len(p.Versions) != 2 {
		t.Fatalf("%+v; want versions 1 and 2 unrecorded", p)
	}
}

// A database already in the state the old rules left (a version applied
// without a ledger row below a recorded one) is out-of-order to Verify,
// which cannot tell it from a file added late. Baseline records it only
// when named, and refuses a named version that is not out-of-order.
func TestBaselineRecordsANamedOutOfOrderVersion(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	set := migcheck.Set{Name: "app", FS: files("0001_a.up.sql", "SELECT 1;", "0002_b.up.sql", "SELECT 2;", "0003_c.up.sql", "SELECT 3;")}
	cfg := quietConfig()
	m := newMigrator(t, db, cfg, set)
	if _, err := m.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "DELETE FROM seatbelt_migration_ledger WHERE version = 2")
	p := only(t, verify(t, db, nil, set), migcheck.KindOutOfOrder, migcheck.SeverityError)
	if p.Version != 2 || !strings.Contains(p.Fix, "above 3") || !strings.Contains(p.Fix, `Applied: map[string][]int64{"app": {2}}`) {
		t.Fatalf("%+v", p)
	}
	if rec, err := m.Baseline(ctx, nil); err != nil || len(rec) != 0 {
		t.Fatalf("baseline without naming it: %+v %v; want nothing recorded", rec, err)
	}
	_, err := m.Baseline(ctx, &migcheck.BaselineOpts{Applied: map[string][]int64{"app": {1, 2}}})
	if err == nil || !strings.Contains(err.Error(), "version 1 is not out-of-order") {
		t.Fatalf("baseline naming a recorded version: %v", err)
	}
	if h, _ := m.History(ctx); len(h) != 2 {
		t.Fatalf("a refused baseline recorded %+v", h)
	}
	rec, err := m.Baseline(ctx, &migcheck.BaselineOpts{Applied: map[string][]int64{"app": {2}}})
	if err != nil || len(rec) != 1 || rec[0].Version != 2 {
		t.Fatalf("baseline naming 2: %+v %v", rec, err)
	}
	if r := verify(t, db, nil, set); len(r.Problems) != 0 {
		t.Fatalf("after baseline: %+v", r.Problems)
	}
}
