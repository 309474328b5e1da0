package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestChaosPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	args := []string{"chaos", "plan", "--tz", "Europe/Berlin", "--seed", "7", "--days", "30", "--from", "2026-06-01"}
	a, code := runCLI(t, args...)
	b, _ := runCLI(t, args...)
	c, _ := runCLI(t, append(args[:5:5], "8", "--days", "30", "--from", "2026-06-01")...)
	if code != 0 || a != b {
		t.Fatalf("exit %d; same seed gave\n%s\nand\n%s", code, a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 gave the same plan:\n%s", a)
	}
	lines := strings.Split(strings.TrimSpace(a), "\n")
	if !strings.HasPrefix(lines[0], "# seed 7, time zone Europe/Berlin, 30 days from 2026-06-01") || len(lines) < 10 {
		t.Fatalf("plan:\n%s", a)
	}
	// The plan is the library's plan for the same config and seed.
	s, _ := chaos.NewSchedule(chaos.Config{TimeZone: "Europe/Berlin"}, 7)
	want, _ := s.Plan(time.Date(2026, 6, 1, 0, 0, 0, 0, s.Location()), 30)
	if len(lines) != len(want)+2 || !strings.HasPrefix(lines[1], want[0].In(s.Location()).Format("Mon 2006-01-02 15:04 MST")) {
		t.Fatalf("CLI plan has %d lines, library %d moments starting %v:\n%s", len(lines)-2, len(want), want[0], a)
	}
}

func TestChaosPlanJSONAndConfigFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "schedule.yaml")
	if err := os.WriteFile(file, []byte("meanInterval: 6h\ntimeZone: America/New_York\nexcludeWeekdays: [Sat, Sun]\nwindows: [{start: \"01:00\", end: \"05:00\"}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "chaos", "plan", "--config", file, "--min-interval", "30m", "--seed", "3", "--days", "14", "--from", "2026-03-02", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if p.Seed != 3 || p.TimeZone != "America/New_York" || time.Duration(p.Config.MinInterval) != 30*time.Minute ||
		time.Duration(p.Config.MeanInterval) != 6*time.Hour || len(p.Moments) < 20 {
		t.Fatalf("plan %+v", p)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, m := range p.Moments {
		l := m.Time.In(ny)
		if l.Hour() < 1 || l.Hour() >= 5 || l.Weekday() == time.Saturday || l.Weekday() == time.Sunday || m.Window != "01:00-05:00=1" {
			t.Fatalf("moment %s (%s) breaks the file's schedule", l, m.Window)
		}
	}
}

func TestChaosUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"chaos", "plan", "--tz", "Nowhere/Special"}, "timeZone"},
		{[]string{"chaos", "plan", "--window", "22:00"}, "START-END"},
		{[]string{"chaos", "plan", "--exclude-weekday", "Caturday"}, "excludeWeekdays[0]"},
		{[]string{"chaos", "plan", "--days", "0"}, "--days"},
		{[]string{"chaos", "plan", "--config", "/no/such/file.yaml"}, "no such file"},
		{[]string{"chaos"}, `"action" not set`},
	} {
		out, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit 2 mentioning %q", tc.args, code, out, tc.want)
		}
	}
}

// startChaos runs the real chaos command until the returned stop is called
// (as a signal would stop it) and returns its first /metrics page.
func startChaos(t *testing.T, args ...string) (metrics string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"chaos", "--metrics-addr", addr}, args...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chaos returned %v on stop", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("chaos did not stop")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("chaos ended early: %v", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), stop
	}
	stop()
	t.Fatal("no /metrics within 10s")
	return "", nil
}

func TestChaosRunServesMetricsAndStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body, stop := startChaos(t, "--action", "touch "+filepath.Join(dir, "acted"), "--state", filepath.Join(dir, "state.json"), "--seed", "1")
	stop()
	if !strings.Contains(body, `seatbelt_chaos_actions_total{outcome="dry_run"} 0`) ||
		!strings.Contains(body, "seatbelt_chaos_next_action_timestamp_seconds 1.") {
		t.Errorf("metrics:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(dir, "acted")); !os.IsNotExist(err) {
		t.Fatalf("the action ran: %v", err)
	}
}

// TestChaosRunLoadsPostgresState seeds a runner's state in PostgreSQL and
// checks that the command, pointed at it with --state, starts from it.
func TestChaosRunLoadsPostgresState(t *testing.T) {
	t.Parallel()
	url := migtest.NewURL(t)
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store, err := chaos.NewPGStore(t.Context(), pool, "orders")
	if err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 6, 1, 23, 15, 0, 0, time.UTC)
	if err := store.Save(t.Context(), chaos.State{LastAction: last, Day: "2026-06-01", DayCount: 1}, chaos.Outcome{Time: last, Result: chaos.ResultSuccess}); err != nil {
		t.Fatal(err)
	}
	body, stop := startChaos(t, "--action", "true", "--state", url, "--name", "orders")
	stop()
	if want := "seatbelt_chaos_last_action_timestamp_seconds " + strconv.FormatFloat(float64(last.Unix()), 'g', -1, 64); !strings.Contains(body, want) {
		t.Fatalf("metrics lack %q:\n%s", want, body)
	}
}
