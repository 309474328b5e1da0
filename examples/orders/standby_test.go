package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// "orders migrate" with STANDBY_URL holds the standby before it applies
// anything, so the standby keeps the database as it was; "orders
// release-standby" lets it catch up.
func TestMigrateHoldsTheStandbyUntilRelease(t *testing.T) {
	t.Parallel()
	primary, stby := migtest.Standby(t)
	bin := buildOrders(t)
	env := []string{"DATABASE_URL=" + primary, "DATABASE_DIRECT_URL=", "STANDBY_URL=" + stby, "VERSION=v9"}

	out, err := runWithEnv(bin, []string{"migrate"}, env...)
	if err != nil || !strings.Contains(out, "orders: standby held") || !strings.Contains(out, "orders: migrations applied") {
		t.Fatalf("orders migrate with STANDBY_URL: %v\n%s", err, out)
	}
	if strings.Index(out, "orders: standby held") > strings.Index(out, "applied migration") {
		t.Fatalf("a migration ran before the standby was held:\n%s", out)
	}
	tables := func(url string) int {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var n int
		if err := c.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if tables(primary) != 1 || tables(stby) != 0 {
		t.Fatal("want the migrations on the primary and not on the held standby")
	}

	// Another version's post-sync Job (a later sync after a failed deploy)
	// leaves the hold to an operator.
	other := append(append([]string(nil), env...), "VERSION=v10")
	if out, err := runWithEnv(bin, []string{"release-standby"}, other...); err != nil || !strings.Contains(out, "held by another deploy") {
		t.Fatalf("orders release-standby of another version: %v, want exit 0 leaving the hold\n%s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	if tables(stby) != 0 {
		t.Fatal("another version's release-standby released the hold")
	}
	if out, err := runWithEnv(bin, []string{"release-standby"}, env...); err != nil || !strings.Contains(out, "standby released") {
		t.Fatalf("orders release-standby: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for tables(stby) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the released standby did not catch up with the migrations")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The kit's post-sync Job runs whether or not there is a standby.
	if out, err := runWithEnv(bin, []string{"release-standby"}, "STANDBY_URL=", "DATABASE_URL=postgres://nowhere.invalid/x"); err != nil || !strings.Contains(out, "no standby to release") {
		t.Fatalf("release-standby without STANDBY_URL: %v, want exit 0 saying there is nothing to release\n%s", err, out)
	}
}
