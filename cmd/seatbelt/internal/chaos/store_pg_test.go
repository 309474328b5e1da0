package chaos

import (
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestPGStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := migtest.New(t)
	store, err := NewPGStore(ctx, pool, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := store.Load(ctx); err != nil || st != (State{}) {
		t.Fatalf("fresh store: %+v, %v", st, err)
	}
	at := time.Date(2026, 6, 1, 23, 15, 0, 0, time.UTC)
	st := State{LastAction: at, Day: "2026-06-01", DayCount: 2}
	o := Outcome{Time: at, Action: "kubectl rollout restart deployment/orders", Result: ResultSuccess, ExitCode: 0, Duration: 1500 * time.Millisecond, Output: "restarted"}
	if err := store.Save(ctx, st, o); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, st, Outcome{Time: at.Add(time.Hour), Action: o.Action, Result: ResultSkipped, Reason: "rollout in progress"}); err != nil {
		t.Fatal(err)
	}

	// A second store (a restarted process) on the same name sees it; another
	// name does not.
	again, err := NewPGStore(ctx, pool, "orders")
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Load(ctx)
	if err != nil || !got.LastAction.Equal(at) || got.Day != st.Day || got.DayCount != 2 {
		t.Fatalf("reloaded %+v, %v; want %+v", got, err, st)
	}
	other, _ := NewPGStore(ctx, pool, "billing")
	if st, _ := other.Load(ctx); st != (State{}) {
		t.Fatalf("another runner's state leaked: %+v", st)
	}
	outs, err := again.Outcomes(ctx, 10)
	if err != nil || len(outs) != 2 || outs[0].Result != ResultSuccess || outs[0].Duration != o.Duration ||
		outs[0].Output != "restarted" || outs[1].Reason != "rollout in progress" {
		t.Fatalf("outcomes %+v, %v", outs, err)
	}

	// A runner restarted on the store keeps the minimum interval.
	s := mustSchedule(t, Config{MinInterval: Duration(6 * time.Hour)}, 3)
	r, err := NewRunner(ctx, RunnerConfig{Schedule: s, Action: "true", Store: again, Clock: &fakeClock{now: at}})
	if err != nil {
		t.Fatal(err)
	}
	next, err := r.Next()
	if err != nil || next.Sub(at) < 6*time.Hour {
		t.Fatalf("next %v after a stored action at %v: %v", next, at, err)
	}
}
