package chaos

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"
)

const simDays = 10_000

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustSchedule(t *testing.T, cfg Config, seed uint64) *Schedule {
	t.Helper()
	s, err := NewSchedule(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// simulate runs the schedule on a fake clock for days, every moment acted on.
func simulate(t *testing.T, s *Schedule, days int) []time.Time {
	t.Helper()
	actions, err := s.Plan(simStart, days)
	if err != nil {
		t.Fatal(err)
	}
	return actions
}

// checkRun asserts what must hold for any run of any schedule.
func checkRun(t *testing.T, s *Schedule, actions []time.Time) {
	t.Helper()
	perDay := map[string]int{}
	for i, a := range actions {
		if !s.Allowed(a) {
			t.Fatalf("action %d at %v (%v local) is outside the allowed windows/days", i, a, a.In(s.loc))
		}
		if i > 0 {
			if !a.After(actions[i-1]) {
				t.Fatalf("action %d at %v is not after action %d at %v (duplicate or out of order)", i, a, i-1, actions[i-1])
			}
			if gap := a.Sub(actions[i-1]); gap < s.min {
				t.Fatalf("gap %v before action %d at %v breaks min interval %v", gap, i, a, s.min)
			}
		}
		day := civilOf(a.In(s.loc)).String()
		perDay[day]++
		if perDay[day] > s.maxPerDay {
			t.Fatalf("%d actions on %s, max is %d", perDay[day], day, s.maxPerDay)
		}
	}
}

func TestSimulationSharesAndMean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"Defaults", Config{}},
		{"BerlinThreeWindows", Config{
			TimeZone:     "Europe/Berlin",
			MeanInterval: Duration(12 * time.Hour),
			MinInterval:  Duration(time.Hour),
			MaxPerDay:    5,
			Windows: []Window{
				{Start: "23:00", End: "05:00", Weight: 6},
				{Start: "12:00", End: "13:30", Weight: 1},
				{Start: "05:00", End: "08:00", Weight: 3},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustSchedule(t, tc.cfg, 42)
			actions := simulate(t, s, simDays)
			checkRun(t, s, actions)

			ws := s.Config().Windows
			total := 0.0
			for _, w := range ws {
				total += w.weight()
			}
			counts := make([]int, len(ws))
			for _, a := range actions {
				counts[s.WindowOf(a)]++
			}
			for i, w := range ws {
				share := float64(counts[i]) / float64(len(actions))
				want := w.weight() / total
				t.Logf("window %s: share %.3f, weight share %.3f", w, share, want)
				if math.Abs(share-want) > 0.02 {
					t.Errorf("window %s: share %.3f, want %.3f ± 0.02", w, share, want)
				}
			}
			mean := actions[len(actions)-1].Sub(actions[0]) / time.Duration(len(actions)-1)
			t.Logf("%d actions, mean interval %v, configured %v", len(actions), mean, s.mean)
			if d := math.Abs(float64(mean-s.mean)) / float64(s.mean); d > 0.10 {
				t.Errorf("mean interval %v is %.1f%% off the configured %v", mean, 100*d, s.mean)
			}
		})
	}
}

func TestSimulationExclusions(t *testing.T) {
	t.Parallel()
	cfg := Config{
		TimeZone:        "Europe/Berlin",
		MeanInterval:    Duration(8 * time.Hour),
		MinInterval:     Duration(time.Hour),
		MaxPerDay:       4,
		ExcludeWeekdays: []string{"Sat", "sunday"},
		ExcludeDates:    []string{"12-24", "12-31", "2027-05-03"},
		Blackouts:       []Blackout{{Start: "2026-12-14", End: "2027-01-04 06:00"}, {Start: "2028-07-01 10:00", End: "2028-07-20"}},
	}
	s := mustSchedule(t, cfg, 7)
	actions := simulate(t, s, simDays)
	checkRun(t, s, actions)
	if len(actions) < simDays {
		t.Fatalf("only %d actions in %d days at a mean of 8h", len(actions), simDays)
	}
	berlin := s.Location()
	b1s, _ := time.ParseInLocation("2006-01-02", "2026-12-14", berlin)
	b1e, _ := time.ParseInLocation("2006-01-02 15:04", "2027-01-04 06:00", berlin)
	var justAfterFreeze bool
	for _, a := range actions {
		l := a.In(berlin)
		switch {
		case l.Weekday() == time.Saturday || l.Weekday() == time.Sunday:
			t.Fatalf("action on %s, a %s", l, l.Weekday())
		case l.Format("01-02") == "12-24" || l.Format("01-02") == "12-31" || l.Format("2006-01-02") == "2027-05-03":
			t.Fatalf("action on excluded date %s", l)
		case !a.Before(b1s) && a.Before(b1e):
			t.Fatalf("action at %s inside the freeze", l)
		}
		if l.Format("2006-01-02") == "2027-01-04" {
			justAfterFreeze = true
		}
	}
	if !justAfterFreeze {
		// Mean 8h over four days makes an empty 2027-01-04 (after 06:00) a
		// one-in-many-thousands event; its absence would mean the freeze
		// leaks past its end.
		t.Errorf("no action on 2027-01-04 after the freeze ended")
	}
}

// TestMinIntervalAcrossRestarts restarts the runner every few simulated
// days with a different seed (so its raw candidates differ) and only the
// stored state linking the runs; no gap may be shorter than the minimum.
// The first 120 days go through a real state file; the 10,000-day run
// round-trips the state through its JSON encoding (a file sync per
// simulated action would take minutes).
func TestMinIntervalAcrossRestarts(t *testing.T) {
	t.Parallel()
	t.Run("FileStore", func(t *testing.T) {
		t.Parallel()
		restartRun(t, &FileStore{Path: t.TempDir() + "/state.json"}, 120)
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		restartRun(t, &jsonStore{}, simDays)
	})
}

// jsonStore keeps the state as the JSON a FileStore would write.
type jsonStore struct{ data []byte }

func (j *jsonStore) Load(context.Context) (State, error) {
	var st State
	if j.data == nil {
		return st, nil
	}
	err := json.Unmarshal(j.data, &st)
	return st, err
}

func (j *jsonStore) Save(_ context.Context, st State, _ Outcome) (err error) {
	j.data, err = json.Marshal(st)
	return err
}

func restartRun(t *testing.T, store Store, days int) {
	cfg := Config{MeanInterval: Duration(8 * time.Hour), MinInterval: Duration(2 * time.Hour), MaxPerDay: 3}
	ctx := t.Context()
	end := simStart.AddDate(0, 0, days)
	now := simStart
	var (
		actions  []time.Time
		restarts int
	)
	for seed := uint64(1); now.Before(end); seed++ {
		s := mustSchedule(t, cfg, seed) // a "new process"
		restarts++
		st, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		crash := now.Add(time.Duration(seed%5+1) * 24 * time.Hour)
		for {
			next, err := s.Next(now, st)
			if err != nil {
				t.Fatal(err)
			}
			if next.After(crash) {
				now = crash
				break
			}
			st = s.Record(st, next)
			if err := store.Save(ctx, st, Outcome{Time: next, Result: ResultDryRun}); err != nil {
				t.Fatal(err)
			}
			actions = append(actions, next)
			now = next
		}
	}
	checkRun(t, mustSchedule(t, cfg, 0), actions)
	t.Logf("%d actions over %d restarts", len(actions), restarts)

	// Without the stored state the same restarts do break the interval,
	// which shows the check above can fail.
	if broken := restartsWithoutState(t, cfg); broken == 0 {
		t.Fatalf("restarts without state never broke the minimum interval; the test cannot tell")
	}
}

func restartsWithoutState(t *testing.T, cfg Config) (broken int) {
	now, last := simStart, time.Time{}
	for seed := uint64(1); seed < 2000; seed++ {
		s := mustSchedule(t, cfg, seed)
		next, _ := s.Next(now, State{})
		if !last.IsZero() && next.Sub(last) < s.min {
			broken++
		}
		last, now = next, next.Add(time.Minute)
	}
	return broken
}

func TestDSTDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		zone             string
		missing          string // the window that does not exist on spring-forward day
		springForwardDay func(year int) time.Time
	}{
		{"America/New_York", "02:00-03:00", func(y int) time.Time { return nthWeekday(y, time.March, time.Sunday, 2) }},
		{"Europe/Berlin", "02:00-03:00", func(y int) time.Time { return lastWeekday(y, time.March, time.Sunday) }},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			// Default windows: whatever the zone does, the run invariants hold.
			s := mustSchedule(t, Config{TimeZone: tc.zone, MeanInterval: Duration(6 * time.Hour), MinInterval: Duration(time.Hour), MaxPerDay: 5}, 3)
			actions := simulate(t, s, simDays)
			checkRun(t, s, actions)

			// A window on exactly the hour that is skipped in spring.
			w, _ := ParseWindow(tc.missing)
			s = mustSchedule(t, Config{TimeZone: tc.zone, MeanInterval: Duration(3 * time.Hour), MinInterval: Duration(time.Minute), MaxPerDay: 100, Windows: []Window{w}}, 5)
			actions = simulate(t, s, simDays)
			checkRun(t, s, actions)
			perDay := map[string]int{}
			for _, a := range actions {
				l := a.In(s.Location())
				if l.Hour() != 2 {
					t.Fatalf("action at %s is outside 02:00-03:00", l)
				}
				perDay[l.Format("2006-01-02")]++
			}
			springDays := 0
			for y := 2026; y < 2026+simDays/366; y++ {
				d := tc.springForwardDay(y).Format("2006-01-02")
				springDays++
				if n := perDay[d]; n != 0 {
					t.Errorf("%d actions on %s, whose 02:00-03:00 does not exist", n, d)
				}
			}
			if springDays < 25 || len(perDay) < simDays*9/10 {
				t.Fatalf("%d spring-forward days checked, %d days with actions", springDays, len(perDay))
			}
		})
	}
}

func nthWeekday(y int, m time.Month, wd time.Weekday, n int) time.Time {
	d := time.Date(y, m, 1, 12, 0, 0, 0, time.UTC)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7*(n-1))
}

func lastWeekday(y int, m time.Month, wd time.Weekday) time.Time {
	d := time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC)
	for d.Weekday() != wd {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

func TestFallBackHourCountsOnce(t *testing.T) {
	t.Parallel()
	// On the fall-back day 01:00-02:00 in New York happens twice; both real
	// hours are inside the window, each instant appears once.
	s := mustSchedule(t, Config{TimeZone: "America/New_York", MeanInterval: Duration(10 * time.Minute), MinInterval: Duration(time.Second), MaxPerDay: 1000, Windows: []Window{{Start: "01:00", End: "02:00"}}}, 9)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, s.Location())
	actions, err := s.Plan(day, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, s, actions)
	offsets := map[string]int{}
	for _, a := range actions {
		_, off := a.In(s.Location()).Zone()
		offsets[time.Duration(off*int(time.Second)).String()]++
	}
	if len(offsets) != 2 {
		t.Fatalf("actions only in offsets %v; want both the EDT and the EST 01:00 hour", offsets)
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	a := simulatePlan(t, 11)
	b := simulatePlan(t, 11)
	c := simulatePlan(t, 12)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			t.Fatalf("plan %d differs for the same seed: %v vs %v", i, a[i], b[i])
		}
	}
	same := len(a) == len(c)
	for i := 0; same && i < len(a); i++ {
		same = a[i].Equal(c[i])
	}
	if same {
		t.Fatalf("seeds 11 and 12 gave the same plan")
	}
}

func simulatePlan(t *testing.T, seed uint64) []time.Time {
	return simulate(t, mustSchedule(t, Config{TimeZone: "Europe/Berlin"}, seed), 60)
}
