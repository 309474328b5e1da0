package demo

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rehearse"
)

// TestShortStorm is the demo in small: 20 seconds of the example's scenario
// through the rehearsal's phases and a storm of a deploy and a kill, with
// real replicas of the example, a real proxy and PostgreSQL, the replicas
// behind a real PgBouncer in transaction mode. (The same run straight to
// the database is rehearse's TestPairs/Compatible.)
func TestShortStorm(t *testing.T) {
	var out strings.Builder
	rep, err := Run(context.Background(), Config{
		Duration: 20 * time.Second, RPS: 80, Deploys: 1, Kills: 1, Seed: 42, Pooler: true,
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
	var deploys, kills int
	for _, p := range rep.Phases {
		deploys += p.Deploys
		kills += p.Kills
	}
	if len(rep.Phases) != 7 || rep.Phases[6].Name != rehearse.PhaseStorm || deploys != 4 || kills != 2 || !rep.Pooler {
		t.Fatalf("%d phases, %d deploys, %d kills, pooler %v; want the 6 phases and the storm, 4 deploys, 2 kills, behind the pooler", len(rep.Phases), deploys, kills, rep.Pooler)
	}
	if rep.RequestsOK < 1000 || rep.Acks.Checked < 300 || len(rep.Invariants) < 4 {
		t.Fatalf("too little was exercised to prove anything: %d requests, %d acknowledged writes checked, %d invariants", rep.RequestsOK, rep.Acks.Checked, len(rep.Invariants))
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Config{Duration: time.Second, RPS: -1, Deploys: 50})
	for _, want := range []string{"duration 1s", "rate -1", "50 deploys"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
