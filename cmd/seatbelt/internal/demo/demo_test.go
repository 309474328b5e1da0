package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// TestShortStorm is the demo in small: 20 seconds, 3 rolling deploys and a
// kill, with real replicas of the example, a real proxy and PostgreSQL;
// then again with the replicas behind a real PgBouncer in transaction mode.
func TestShortStorm(t *testing.T) {
	for _, pooler := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "behind PgBouncer"}[pooler], func(t *testing.T) {
			var out strings.Builder
			rep, err := Run(context.Background(), Config{
				Duration: 20 * time.Second, RPS: 80, Deploys: 3, Kills: 1, Seed: 42, Pooler: pooler,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			rep.WriteTable(&out)
			t.Log("\n" + out.String())
			if !rep.OK {
				t.Fatal("the storm lost something or failed requests because of a deploy")
			}
			if rep.Deploys != 3 || rep.Kills != 1 || rep.Pooler != pooler {
				t.Fatalf("%d deploys and %d kills, pooler %v; want 3 and 1, %v", rep.Deploys, rep.Kills, rep.Pooler, pooler)
			}
			if rep.RequestsOK < 1000 || rep.EventsChecked < 300 || rep.JobsCompleted < 3 || rep.ReadsChecked < 100 {
				t.Fatalf("too little was exercised to prove anything: %+v", rep)
			}
		})
	}
}

// TestVerifierCatchesALostWrite shows the check is not vacuous: a version
// acknowledged with other data, and one never written, are both found.
func TestVerifierCatchesALostWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := migtest.New(t, eventlog.Migrations)
	store, err := eventlog.New(db, &eventlog.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	written := json.RawMessage(`{"customer":"c","total_cents":100}`)
	if _, err := store.Append(ctx, eventlog.Stream{Type: "order", ID: "o-1"}, []eventlog.NewRecord{{Data: written}}, nil); err != nil {
		t.Fatal(err)
	}
	ld := newLoad("http://unused", 1, rand.New(rand.NewPCG(1, 1)))
	ld.orders["o-1"] = &orderState{latest: 2, acked: map[int64]json.RawMessage{
		1: json.RawMessage(`{"total_cents":100,"customer":"c"}`), // same, keys reordered
		2: json.RawMessage(`{"customer":"c","total_cents":200}`), // acknowledged, never stored
	}}
	ld.orders["o-2"] = &orderState{latest: 1, acked: map[int64]json.RawMessage{
		1: json.RawMessage(`{"customer":"d","total_cents":5}`), // a stream that does not exist
	}}
	rep := &Report{}
	if err := checkOrders(ctx, db, ld, rep); err != nil {
		t.Fatal(err)
	}
	if rep.EventsChecked != 3 || rep.EventViolations != 2 {
		t.Fatalf("checked %d, violations %d; want 3 and 2", rep.EventsChecked, rep.EventViolations)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Config{Duration: time.Second, RPS: -1, Deploys: 50})
	for _, want := range []string{"duration 1s", "rps -1", "50 deploys"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

// A run that could not fit its deploys in the time fails, and the table
// says which row is short.
func TestReportMarksDeploysNotPerformed(t *testing.T) {
	t.Parallel()
	rep := &Report{}
	rep.fill(newLoad("http://unused", 1, rand.New(rand.NewPCG(1, 1))), &operator{deploys: 2, kills: 1}, Config{Deploys: 3, Kills: 1})
	var out strings.Builder
	rep.WriteTable(&out)
	if rep.OK {
		t.Error("OK with 2 of 3 deploys")
	}
	if line := lineWith(out.String(), "rolling deploys"); !strings.Contains(line, "2 of 3") || !strings.Contains(line, "FAIL") {
		t.Errorf("deploys row %q, want 2 of 3 marked FAIL", line)
	}
	if line := lineWith(out.String(), "replicas killed"); !strings.Contains(line, "1 of 1") || strings.Contains(line, "FAIL") {
		t.Errorf("kills row %q, want 1 of 1 ok", line)
	}
}

func lineWith(s, prefix string) string {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}
