package riverpeer_test

import (
	"context"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/bench/riverpeer"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestBurnDownAndLatency(t *testing.T) {
	db := migtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := riverpeer.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := riverpeer.Insert(ctx, db, 500); err != nil {
		t.Fatal(err)
	}
	took, err := riverpeer.BurnDown(ctx, db, 500)
	if err != nil || took <= 0 {
		t.Fatalf("burn-down %s %v", took, err)
	}
	var left int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state <> 'completed'").Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d jobs not completed (%v)", left, err)
	}
	lat, err := riverpeer.Latency(ctx, db, 5)
	if err != nil || len(lat) != 5 || lat[0] > lat[4] {
		t.Fatalf("latency %v %v", lat, err)
	}
}
