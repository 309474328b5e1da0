package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/console"
)

// fakeDeploys is a schedule of fixed moments, recording what the page asks.
type fakeDeploys struct {
	moments []time.Time
	past    []console.DeployOutcome
	rules   console.DeployRules
	err     error

	mu       sync.Mutex
	from, to time.Time
}

func (f *fakeDeploys) Planned(_ context.Context, from, to time.Time) ([]time.Time, error) {
	f.mu.Lock()
	f.from, f.to = from, to
	f.mu.Unlock()
	var out []time.Time
	for _, m := range f.moments {
		if !m.Before(from) && m.Before(to) {
			out = append(out, m)
		}
	}
	return out, f.err
}

func (f *fakeDeploys) Past(_ context.Context, limit int) ([]console.DeployOutcome, error) {
	return f.past[:min(limit, len(f.past))], f.err
}

func (f *fakeDeploys) Rules() console.DeployRules { return f.rules }

func TestDeploysPage(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 6, day, hour, minute, 0, 0, berlin) }
	now := at(1, 10, 30) // a Monday
	f := &fakeDeploys{
		moments: []time.Time{at(1, 9, 0), at(1, 23, 15), at(3, 2, 40), at(3, 14, 5), at(14, 5, 59), at(15, 1, 0)},
		past: []console.DeployOutcome{
			{Time: at(1, 3, 10), Action: "kubectl rollout restart deployment/orders", Result: "success", Duration: 95 * time.Second},
			{Time: time.Date(2026, 5, 30, 4, 0, 0, 0, berlin), Action: "kubectl rollout restart deployment/orders", Result: "failed", ExitCode: 1, Reason: "verification timed out", Output: "error: deployment \"orders\" exceeded its progress deadline"},
		},
		rules: console.DeployRules{
			Location: berlin,
			Windows: []console.DeployWindow{
				{Start: 22 * time.Hour, End: 6 * time.Hour, Share: 0.8},
				{Start: 6 * time.Hour, End: 22 * time.Hour, Share: 0.2},
			},
			MeanInterval: 24 * time.Hour, MinInterval: 2 * time.Hour, MaxPerDay: 3,
			Source: "chaos.yaml, seed 7",
		},
	}
	s := serve(t, newDB(t), &console.Config{Deploys: f, Now: func() time.Time { return now }})
	body := s.mustGet("/deploys")

	t.Run("AsksForTheNext14Days", func(t *testing.T) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.from.Equal(now) || !f.to.Equal(at(15, 0, 0)) {
			t.Errorf("asked for [%v, %v), want [%v, %v)", f.from, f.to, now, at(15, 0, 0))
		}
	})
	t.Run("Rules", func(t *testing.T) {
		rules := htmlElement(t, body, "p", "rules")
		for _, want := range []string{"every 24h, at least 2h apart, at most 3 a day.", "chaos.yaml, seed 7"} {
			if !strings.Contains(rules, want) {
				t.Errorf("the rules lack %q: %s", want, rules)
			}
		}
		if !strings.Contains(body, "22:00-06:00 (80% of deploys)") || !strings.Contains(body, "hours in Europe/Berlin") {
			t.Error("the legend does not name the shaded window and the time zone")
		}
	})
	t.Run("Chart", func(t *testing.T) {
		chart := htmlElement(t, body, "svg", "deploy-chart")
		days := regexp.MustCompile(`(?s)<g class="day">.*?</g>`).FindAllString(chart, -1)
		if len(days) != 14 {
			t.Fatalf("%d day rows, want 14", len(days))
		}
		if !strings.Contains(days[0], ">Mon Jun 1<") || !strings.Contains(days[13], ">Sun Jun 14<") {
			t.Errorf("the rows do not run from today to 13 days later:\n%s\n%s", days[0], days[13])
		}
		// 22:00-06:00 wraps midnight: 00:00-06:00 and 22:00-24:00 on each row.
		for i, d := range days {
			if !strings.Contains(d, `class="night" x="100.0" y="`) || !strings.Contains(d, `width="216.0"`) ||
				!strings.Contains(d, `class="night" x="892.0" y="`) || !strings.Contains(d, `width="72.0"`) {
				t.Errorf("row %d lacks its night bands:\n%s", i, d)
			}
			if got := strings.Count(d, `class="night"`); got != 2 {
				t.Errorf("row %d has %d night bands, want 2", i, got)
			}
		}
		if !strings.Contains(days[0], `class="past" x="100.0"`) || strings.Contains(days[1], `class="past"`) {
			t.Errorf("today's row does not grey the hours gone by:\n%s", days[0])
		}
		marks := map[int][]string{0: {"Mon 2026-06-01 23:15 CEST"}, 2: {"Wed 2026-06-03 02:40 CEST", "Wed 2026-06-03 14:05 CEST"}, 13: {"Sun 2026-06-14 05:59 CEST"}}
		total := 0
		for i, d := range days {
			n := strings.Count(d, `<circle class="deploy"`)
			total += n
			if n != len(marks[i]) {
				t.Errorf("row %d has %d marks, want %d", i, n, len(marks[i]))
			}
			for _, m := range marks[i] {
				if !strings.Contains(d, "<title>deploy "+m+"</title></circle>") {
					t.Errorf("row %d lacks the mark of %s:\n%s", i, m, d)
				}
			}
		}
		if total != 4 {
			t.Errorf("%d marks, want 4: the one gone by and the one past 14 days are not drawn", total)
		}
		// 23:15 is 23.25 hours in.
		if !strings.Contains(days[0], fmt.Sprintf(`cx="%.1f"`, 100+23.25*36)) {
			t.Errorf("the 23:15 mark is not at its hour:\n%s", days[0])
		}
	})
	t.Run("Table", func(t *testing.T) {
		rows := regexp.MustCompile(`(?s)<tr class="planned">.*?</tr>`).FindAllString(body, -1)
		want := []string{"Mon 2026-06-01 23:15 CEST", "Wed 2026-06-03 02:40 CEST", "Wed 2026-06-03 14:05 CEST", "Sun 2026-06-14 05:59 CEST"}
		if len(rows) != len(want) {
			t.Fatalf("%d planned rows, want %d", len(rows), len(want))
		}
		for i, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("planned row %d lacks %s: %s", i, w, rows[i])
			}
		}
		if !strings.Contains(rows[0], "likelier") || strings.Contains(rows[2], "likelier") || !strings.Contains(rows[0], "in 12h45m") || !strings.Contains(rows[3], "in 12d 19h") {
			t.Errorf("the night moment is not marked as such, or the day one is, or the wait is wrong:\n%s\n%s\n%s", rows[0], rows[2], rows[3])
		}
	})
	t.Run("PastNewestFirst", func(t *testing.T) {
		rows := regexp.MustCompile(`(?s)<tr class="past">.*?</tr>`).FindAllString(body, -1)
		if len(rows) != 2 {
			t.Fatalf("%d past rows, want 2", len(rows))
		}
		if !strings.Contains(rows[0], `<td class="good result">success</td>`) || !strings.Contains(rows[0], "1m35s") {
			t.Errorf("the success is not first, styled good, with its duration:\n%s", rows[0])
		}
		if !strings.Contains(rows[1], `<td class="bad result">failed</td>`) || !strings.Contains(rows[1], `<td class="num">1</td>`) ||
			!strings.Contains(rows[1], "verification timed out") || !strings.Contains(rows[1], "exceeded its progress deadline") {
			t.Errorf("the failure lacks its style, exit code, reason or output:\n%s", rows[1])
		}
	})
}

func TestDeploysPageErrorAndUnconfigured(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	t.Run("Unconfigured", func(t *testing.T) {
		t.Parallel()
		body := serve(t, db, nil).mustGet("/deploys")
		if !strings.Contains(body, `id="no-deploys"`) || !strings.Contains(body, "console.Config.Deploys") || !strings.Contains(body, "seatbelt console --chaos-config") {
			t.Errorf("the page does not say no schedule is configured and how to give one:\n%s", body)
		}
	})
	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		f := &fakeDeploys{err: errors.New("chaos: read state: permission denied")}
		code, body, _ := serve(t, db, &console.Config{Deploys: f}).get("/deploys")
		if code != http.StatusInternalServerError || !strings.Contains(body, `id="error"`) || !strings.Contains(body, "chaos: read state: permission denied") {
			t.Errorf("a failing Deploys: %d, want 500 with the cause shown\n%s", code, body)
		}
	})
	t.Run("OneWindowIsGreyedOutsideNotShaded", func(t *testing.T) {
		t.Parallel()
		f := &fakeDeploys{rules: console.DeployRules{Windows: []console.DeployWindow{{Start: time.Hour, End: 5 * time.Hour, Share: 1}}}}
		chart := htmlElement(t, serve(t, db, &console.Config{Deploys: f}).mustGet("/deploys"), "svg", "deploy-chart")
		if strings.Contains(chart, `class="night"`) {
			t.Error("a single window is shaded as likelier than itself")
		}
		// 00:00-01:00 and 05:00-24:00 have no deploy, on each of the 14 rows.
		if strings.Count(chart, `class="closed" x="100.0" y=`) != 14 || strings.Count(chart, `class="closed" x="280.0" y=`) != 14 ||
			strings.Count(chart, `width="684.0"`) != 14 {
			t.Errorf("the hours outside the window are not greyed:\n%s", chart)
		}
	})
	t.Run("NothingPlanned", func(t *testing.T) {
		t.Parallel()
		body := serve(t, db, &console.Config{Deploys: &fakeDeploys{}}).mustGet("/deploys")
		if !strings.Contains(body, `id="none-planned"`) || !strings.Contains(body, `id="no-past"`) || strings.Count(body, `<g class="day">`) != 14 {
			t.Errorf("an empty schedule: want the 14 empty rows and the notes that nothing is planned or past:\n%s", body)
		}
	})
}
