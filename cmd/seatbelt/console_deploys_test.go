package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// consoleChaosConfig is the schedule file of the tests: the default windows
// (80% of actions 22:00-06:00) in Berlin.
const consoleChaosConfig = "timeZone: Europe/Berlin\nmeanInterval: 12h\nminInterval: 2h\nmaxPerDay: 3\n"

func writeChaosConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chaos.yaml")
	if err := os.WriteFile(path, []byte(consoleChaosConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runnerSchedule is the schedule a runner started with the test's config
// and seed 7 follows.
func runnerSchedule(t *testing.T) *chaos.Schedule {
	t.Helper()
	cfg, err := chaos.ParseConfig([]byte(consoleChaosConfig))
	if err != nil {
		t.Fatal(err)
	}
	s, err := chaos.NewSchedule(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConsoleDeploysFileStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sched := runnerSchedule(t)
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, sched.Location())
	statePath := filepath.Join(t.TempDir(), "state.json")
	store := &chaos.FileStore{Path: statePath}
	outcomes := []chaos.Outcome{
		{Time: day.AddDate(0, 0, -3).Add(2 * time.Hour), Action: "kubectl rollout restart deployment/orders", Result: chaos.ResultSuccess, Duration: 80 * time.Second},
		{Time: day.AddDate(0, 0, -2).Add(3 * time.Hour), Action: "kubectl rollout restart deployment/orders", Result: chaos.ResultFailed, ExitCode: 1, Reason: "exit status 1", Output: "error: no such deployment"},
		{Time: day.AddDate(0, 0, -1).Add(23 * time.Hour), Action: "kubectl rollout restart deployment/orders", Result: chaos.ResultSkipped, Reason: "health check answered 503"},
	}
	var st chaos.State
	for _, o := range outcomes {
		if o.Result != chaos.ResultSkipped {
			st = sched.Record(st, o.Time)
		}
		if err := store.Save(ctx, st, o); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newConsoleDeploys(ctx, consoleChaos{config: writeChaosConfig(t), seed: "7", state: statePath, name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	t.Run("PlannedIsTheRunnersPlan", func(t *testing.T) {
		want, err := sched.Plan(day, 14)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Planned(ctx, day, day.AddDate(0, 0, 14))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 14 || len(got) != len(want) {
			t.Fatalf("%d moments, want the %d of chaos plan", len(got), len(want))
		}
		for i := range want {
			if !got[i].Equal(want[i]) {
				t.Fatalf("moment %d is %v, chaos plan says %v", i, got[i], want[i])
			}
		}
		// A shorter span is the same moments, cut at its end.
		short, err := d.Planned(ctx, want[2], want[5])
		if err != nil {
			t.Fatal(err)
		}
		if len(short) != 3 || !short[0].Equal(want[2]) || !short[2].Equal(want[4]) {
			t.Errorf("[%v, %v): %v, want moments 2 to 4 of the plan", want[2], want[5], short)
		}
	})
	t.Run("PlannedKeepsTheStoredMinimumInterval", func(t *testing.T) {
		plan, err := sched.Plan(day.AddDate(0, 0, 20), 1)
		if err != nil || len(plan) == 0 {
			t.Fatalf("no moment on day 20 to test with: %v", err)
		}
		// The runner acted 30 minutes before the plan's first moment of
		// the day; that moment is inside the minimum interval.
		last := plan[0].Add(-30 * time.Minute)
		statePath := filepath.Join(t.TempDir(), "state.json")
		if err := (&chaos.FileStore{Path: statePath}).Save(ctx, sched.Record(chaos.State{}, last), chaos.Outcome{Time: last, Result: chaos.ResultSuccess}); err != nil {
			t.Fatal(err)
		}
		d, err := newConsoleDeploys(ctx, consoleChaos{config: writeChaosConfig(t), seed: "7", state: statePath})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		got, err := d.Planned(ctx, last.Add(time.Minute), last.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || !got[0].After(plan[0]) || got[0].Sub(last) < 2*time.Hour {
			t.Errorf("after an action at %v the first moment is %v; the plan's %v is within the 2h minimum", last, got, plan[0])
		}
	})
	t.Run("PastNewestFirst", func(t *testing.T) {
		past, err := d.Past(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(past) != 2 {
			t.Fatalf("%d outcomes, want the 2 newest", len(past))
		}
		if p := past[0]; p.Result != "skipped" || !p.Time.Equal(outcomes[2].Time) || p.Reason != "health check answered 503" {
			t.Errorf("newest: %+v, want the skip", p)
		}
		if p := past[1]; p.Result != "failed" || p.ExitCode != 1 || p.Output != "error: no such deployment" || p.Action != outcomes[1].Action {
			t.Errorf("second: %+v, want the failure with its exit code and output", p)
		}
	})
	t.Run("Rules", func(t *testing.T) {
		r := d.Rules()
		if r.Location.String() != "Europe/Berlin" || r.MeanInterval != 12*time.Hour || r.MinInterval != 2*time.Hour || r.MaxPerDay != 3 {
			t.Errorf("rules %+v, want Berlin, 12h mean, 2h apart, 3 a day", r)
		}
		if len(r.Windows) != 2 || r.Windows[0].Start != 22*time.Hour || r.Windows[0].End != 6*time.Hour || r.Windows[0].Share != 0.8 ||
			r.Windows[1].Start != 6*time.Hour || r.Windows[1].End != 22*time.Hour || r.Windows[1].Share != 0.2 {
			t.Errorf("windows %+v, want the defaults: 22:00-06:00 80%%, 06:00-22:00 20%%", r.Windows)
		}
		if !strings.Contains(r.Source, "chaos.yaml with seed 7") {
			t.Errorf("source %q does not name the file and seed", r.Source)
		}
	})
}

// The console's deploys page, fed by the adapter, shows the runner's plan.
func TestConsoleDeploysPage(t *testing.T) {
	t.Parallel()
	sched := runnerSchedule(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, sched.Location())
	plan, err := sched.Plan(now, 14)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newConsoleDeploys(t.Context(), consoleChaos{config: writeChaosConfig(t), seed: "7", state: filepath.Join(t.TempDir(), "state.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := console.New(migtest.New(t, eventlog.Migrations, jobs.Migrations), &console.Config{
		Deploys: d, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/deploys", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || strings.Count(body, `<g class="day">`) != 14 {
		t.Fatalf("GET /deploys: %d, want 200 with 14 day rows\n%s", rec.Code, body)
	}
	for _, m := range plan {
		if title := "<title>deploy " + m.Format("Mon 2006-01-02 15:04 MST") + "</title>"; !strings.Contains(body, title) {
			t.Errorf("the chart lacks the planned %v", m)
		}
	}
	if strings.Count(body, `<circle class="deploy"`) != len(plan) {
		t.Errorf("%d marks, want the plan's %d", strings.Count(body, `<circle class="deploy"`), len(plan))
	}
}

func TestConsoleDeploysPGStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := migtest.NewURL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store, err := chaos.NewPGStore(ctx, pool, "orders")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)
	for i, r := range []chaos.Result{chaos.ResultDryRun, chaos.ResultVerifyFailed} {
		o := chaos.Outcome{Time: at.Add(time.Duration(i) * time.Hour), Action: "argocd app sync orders", Result: r, Duration: time.Duration(i+1) * time.Second}
		if err := store.Save(ctx, chaos.State{LastAction: o.Time}, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		want []string
	}{{"orders", []string{"verify_failed", "dry_run"}}, {"other", nil}} {
		d, err := newConsoleDeploys(ctx, consoleChaos{config: writeChaosConfig(t), seed: "7", state: url, name: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		past, err := d.Past(ctx, 10)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range past {
			got = append(got, p.Result)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("runner %s: outcomes %v, want %v newest first", tc.name, got, tc.want)
		}
		if tc.name == "orders" && (past[0].Duration != 2*time.Second || !past[0].Time.Equal(at.Add(time.Hour))) {
			t.Errorf("newest outcome %+v, want the one at %v that took 2s", past[0], at.Add(time.Hour))
		}
	}
}

func TestConsoleDeploysRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("windows: [{start: \"25:00\", end: \"06:00\"}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeChaosConfig(t)
	state := filepath.Join(dir, "state.json")
	for _, tc := range []struct {
		name string
		o    consoleChaos
		want string
	}{
		{"NoSeed", consoleChaos{config: good, state: state}, "needs --chaos-seed"},
		{"BadSeed", consoleChaos{config: good, seed: "seven", state: state}, `--chaos-seed "seven"`},
		{"BadConfig", consoleChaos{config: bad, seed: "7", state: state}, "windows[0]"},
		{"NoConfigFile", consoleChaos{config: filepath.Join(dir, "none.yaml"), seed: "7", state: state}, "none.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newConsoleDeploys(context.Background(), tc.o)
			if err == nil {
				d.Close()
				t.Fatalf("accepted %+v", tc.o)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
