package jobs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/jobs"
)

var tickKind = jobs.Kind{Name: "tick", Stages: []jobs.Stage{{Name: "run", Run: func(context.Context, *jobs.StageRun) error { return nil }}}}

func periodicConfig(id string) *jobs.Config {
	cfg := testConfig(id)
	cfg.PeriodicInterval = 50 * time.Millisecond
	return cfg
}

// onTheHour returns a fake clock set to the next full hour, that hour,
// and the config of a periodic client on that clock.
func onTheHour() (*fakeClock, time.Time, func(id string) *jobs.Config) {
	clock := newFakeClock()
	hour := clock.Now().Truncate(time.Hour).Add(time.Hour)
	clock.Set(hour)
	return clock, hour, func(id string) *jobs.Config {
		c := periodicConfig(id)
		c.Now = clock.Now
		return c
	}
}

// startPeriodic starts a client running tickKind with the periodic jobs.
func startPeriodic(t *testing.T, db *pgxpool.Pool, cfg *jobs.Config, ps ...jobs.PeriodicJob) *jobs.Client {
	t.Helper()
	c := newClient(t, db, cfg, tickKind)
	for _, p := range ps {
		if err := c.AddPeriodic(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// slots returns the slots that got a job of the named schedule, oldest
// first, each as many times as it got one.
func slots(t *testing.T, db *pgxpool.Pool, name string) []time.Time {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT unique_key FROM seatbelt_jobs WHERE unique_key LIKE $1 ORDER BY unique_key`, "periodic:"+name+":%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(key, "periodic:"+name+":"))
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		out = append(out, at)
	}
	return out
}

// Three replicas race for every slot of a one-second schedule while one
// of them is restarted every 700 ms: each slot gets exactly one job, and
// none is skipped.
func TestPeriodicSlotsFireExactlyOnceAcrossReplicasAndRestarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Second)}
	for i := range 2 {
		startPeriodic(t, b.db, periodicConfig("steady-"+string(rune('a'+i))), p)
	}
	ctx := context.Background()
	restarted := startPeriodic(t, b.db, periodicConfig("restarted-0"), p)
	begun := time.Now()
	for i := 1; time.Since(begun) < 5*time.Second; i++ {
		time.Sleep(700 * time.Millisecond)
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := restarted.StopAndCancel(stopCtx); err != nil {
			t.Fatal(err)
		}
		cancel()
		restarted = startPeriodic(t, b.db, periodicConfig("restarted-"+string(rune('0'+i))), p)
	}
	got := slots(t, b.db, "tick")
	if len(got) < 4 {
		t.Fatalf("%d slots fired in 5 s of a one-second schedule: %v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d != time.Second {
			t.Fatalf("slots %v and %v are %v apart: a slot was doubled or skipped (all: %v)", got[i-1], got[i], d, got)
		}
	}
	// The replicas still run: a slot may fire between the reads, so the
	// last slot reported is the last of got or one fired after it.
	info, err := jobs.Periodic(ctx, b.db)
	later := slots(t, b.db, "tick")
	if err != nil || len(info) != 1 || info[0].Name != "tick" || info[0].LastSlot == nil || info[0].LastSlot.Before(got[len(got)-1]) ||
		!slices.ContainsFunc(later, info[0].LastSlot.Equal) ||
		!info[0].NextSlot.After(*info[0].LastSlot) || !strings.Contains(info[0].Schedule, "every 1s") {
		t.Fatalf("periodic info %+v %v; slots %v, then %v", info, err, got, later)
	}
}

// On a fake clock: slots that pass while every client is down are skipped,
// or run once together, by each schedule's policy.
func TestPeriodicMissedSlots(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clock, hour, cfg := onTheHour()
	clock.Set(hour.Add(time.Second))
	skip := jobs.PeriodicJob{Name: "skip", Kind: "tick", Schedule: jobs.Every(time.Minute)}
	once := jobs.PeriodicJob{Name: "once", Kind: "tick", Schedule: jobs.Every(time.Minute), Missed: jobs.MissedRunOnce}
	c := startPeriodic(t, b.db, cfg("w1"), skip, once)
	waitFor(t, 10*time.Second, "the schedules stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 2 })
	if n := len(slots(t, b.db, "skip")) + len(slots(t, b.db, "once")); n != 0 {
		t.Fatalf("%d jobs before the first slot: a new schedule must start at its next slot", n)
	}
	clock.Advance(time.Minute)
	waitFor(t, 10*time.Second, "one slot of each", func() bool { return len(slots(t, b.db, "skip")) == 1 && len(slots(t, b.db, "once")) == 1 })

	// Every client down for ten minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(hour.Add(11*time.Minute + 31*time.Second)) // every slot from :02 to :11 passed unseen
	startPeriodic(t, b.db, cfg("w2"), skip, once)
	waitFor(t, 10*time.Second, "the missed slots run once", func() bool { return len(slots(t, b.db, "once")) == 2 })
	time.Sleep(300 * time.Millisecond) // six looks
	if s := slots(t, b.db, "skip"); len(s) != 1 {
		t.Fatalf("skip policy: %v", s)
	}
	if s := slots(t, b.db, "once"); len(s) != 2 || s[1].Sub(s[0]) != time.Minute {
		t.Fatalf("run-once policy: %v; want the first missed slot once", s)
	}
	// Both keep their schedule afterwards.
	clock.Set(hour.Add(12*time.Minute + time.Second))
	waitFor(t, 10*time.Second, "the next slot of each", func() bool { return len(slots(t, b.db, "skip")) == 2 && len(slots(t, b.db, "once")) == 3 })
}

// A client started later with another schedule under the same name (a new
// build) replaces the stored one; the older client still running defers
// to it, so only the new schedule's slots fire.
func TestPeriodicScheduleChangeTakesEffectOnDeploy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clock, hour, cfg := onTheHour()
	old := jobs.PeriodicJob{Name: "report", Kind: "tick", Schedule: jobs.Every(10 * time.Minute)}
	startPeriodic(t, b.db, cfg("old"), old)
	waitFor(t, 10*time.Second, "the old schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	clock.Advance(time.Second) // the new build starts later
	changed := old
	changed.Schedule = jobs.MustCron("0 15,45 * * * *") // at :15 and :45
	startPeriodic(t, b.db, cfg("new"), changed)
	waitFor(t, 10*time.Second, "the new schedule stored", func() bool {
		info, err := jobs.Periodic(context.Background(), b.db)
		return err == nil && len(info) == 1 && strings.HasPrefix(info[0].Schedule, "0 15,45")
	})
	// Just past each slot of either schedule, long enough for both
	// clients to look: the old one's :10, :20, :30 and :40 fire nothing.
	for _, m := range []int{10, 15, 20, 30, 40, 45} {
		clock.Set(hour.Add(time.Duration(m)*time.Minute + time.Second))
		time.Sleep(300 * time.Millisecond)
	}
	got := slots(t, b.db, "report")
	if len(got) != 2 || got[0].Minute() != 15 || got[1].Minute() != 45 {
		t.Fatalf("slots fired after the change: %v; want :15 and :45 only", got)
	}
}

func TestAddPeriodicRefusesWhatCannotRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newClient(t, b.db, testConfig("w"), tickKind)
	for _, tc := range []struct {
		p    jobs.PeriodicJob
		want string
	}{
		{jobs.PeriodicJob{Schedule: jobs.Every(time.Hour)}, "PeriodicJob.Kind is empty"},
		{jobs.PeriodicJob{Kind: "tick"}, "PeriodicJob.Schedule is nil"},
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Millisecond)}, "the shortest is one second"},
		// Slots are stored to the microsecond: one stored a little early
		// would be taken for a slot of its own beside the exact one.
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Hour / 7)}, "a whole number of microseconds"},
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Hour), Missed: 7}, "PeriodicJob.Missed is 7"},
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Hour), Queue: strings.Repeat("q", 200)}, "PeriodicJob.Queue"},
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Hour), Args: func() {}}, "PeriodicJob.Args"},
		{jobs.PeriodicJob{Kind: "tick", Schedule: jobs.MustCron("0 0 30 2 *")}, "has no slot after now"},
		// One name PostgreSQL's text refuses would fail every look at the
		// schedules, which sends them all in one statement.
		{jobs.PeriodicJob{Name: "nightly\x00", Kind: "tick", Schedule: jobs.Every(time.Hour)}, `PeriodicJob.Name "nightly\x00" is not valid UTF-8 text without NUL bytes`},
		{jobs.PeriodicJob{Kind: "tick\xff", Schedule: jobs.Every(time.Hour)}, `PeriodicJob.Kind "tick\xff" is not valid UTF-8 text without NUL bytes`},
		{jobs.PeriodicJob{Name: strings.Repeat("n", 1001), Kind: "tick", Schedule: jobs.Every(time.Hour)}, "the most is 1000 (MaxNameLen)"},
	} {
		if err := c.AddPeriodic(tc.p); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.p, err, tc.want)
		}
	}
	for spec, want := range map[string]string{
		"61 * * * *":          "minute hour day month weekday",
		"@every 500ms":        "the shortest is one second",
		"@every 1.0000005s":   "a whole number of microseconds",
		"@every ninety":       "@every 90s",
		"@every 1500ms extra": "@every 90s",
	} {
		if _, err := jobs.Cron(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cron expression %q: %v; want %q", spec, err, want)
		}
	}
	if err := c.AddPeriodic(jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPeriodic(jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(time.Minute)}); err == nil || !strings.Contains(err.Error(), "added twice") {
		t.Errorf("a second schedule of one name: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPeriodic(jobs.PeriodicJob{Name: "late", Kind: "tick", Schedule: jobs.Every(time.Hour)}); err == nil || !strings.Contains(err.Error(), "after Start") {
		t.Errorf("AddPeriodic after Start: %v", err)
	}
}

// A schedule stored by a newer client that no client runs any more (that
// build was rolled back) is taken back by the older clients within
// seconds (two on-time windows of the database's clock, 10 s here), not at
// its next slot (here a day away), so the name keeps firing; while the
// newer client runs, they defer to it.
func TestPeriodicOlderClientTakesOverAScheduleNobodyRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clock, hour, cfg := onTheHour()
	blue := jobs.PeriodicJob{Name: "report", Kind: "tick", Schedule: jobs.Every(10 * time.Minute)}
	startPeriodic(t, b.db, cfg("blue"), blue)
	waitFor(t, 10*time.Second, "blue's schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	clock.Set(hour.Add(time.Second))
	green := blue
	// Daily, half a day from the test's hour: a fixed hour was the test's
	// own when it ran in the hour before, and green then ran that slot.
	daily := fmt.Sprintf("0 0 %d * * *", (hour.Hour()+12)%24)
	green.Schedule = jobs.MustCron(daily)
	g := startPeriodic(t, b.db, cfg("green"), green)
	greenStored := func() bool {
		return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic WHERE schedule LIKE $1", daily+"%") == 1
	}
	waitFor(t, 10*time.Second, "green's schedule stored", greenStored)
	// Both running for longer than blue's window (12 s, the clock moving
	// on meanwhile): blue defers throughout.
	stepClock(clock, 80)
	if !greenStored() {
		t.Fatal("blue took the schedule back while green ran it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Stop(ctx); err != nil { // green rolled back
		t.Fatal(err)
	}
	stopped := time.Now()
	for greenStored() {
		if time.Since(stopped) > 30*time.Second {
			t.Fatal("30 s after green stopped, blue still defers to its schedule, whose next slot is half a day away")
		}
		stepClock(clock, 1)
	}
	clock.Set(hour.Add(10*time.Minute + time.Second))
	waitFor(t, 10*time.Second, "blue's :10 slot", func() bool { return len(slots(t, b.db, "report")) == 1 })
	if got := slots(t, b.db, "report"); got[0].Minute() != 10 {
		t.Fatalf("slots: %v", got)
	}
}

// stepClock moves clock on a second at a time, n times, leaving the
// clients (looking every 50 ms) time to look at each second.
func stepClock(clock *fakeClock, n int) {
	for range n {
		clock.Advance(time.Second)
		time.Sleep(150 * time.Millisecond)
	}
}

// A client stuck holding one schedule's row lock does not stop the other
// schedules, and the schedule goes on once the lock is gone.
func TestPeriodicHeldRowLockBlocksOnlyItsSchedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a := jobs.PeriodicJob{Name: "a", Kind: "tick", Schedule: jobs.Every(time.Second)}
	bb := jobs.PeriodicJob{Name: "b", Kind: "tick", Schedule: jobs.Every(time.Second)}
	startPeriodic(t, b.db, periodicConfig("w"), a, bb)
	waitFor(t, 10*time.Second, "both stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 2 })
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs_periodic WHERE name = 'a' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	before := len(slots(t, b.db, "b"))
	time.Sleep(2500 * time.Millisecond)
	if got := len(slots(t, b.db, "b")); got < before+2 {
		t.Fatalf("schedule b fired %d slots in 2.5 s while a's row was locked", got-before)
	}
	heldA := len(slots(t, b.db, "a"))
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a fires again", func() bool { return len(slots(t, b.db, "a")) > heldA })
}

// A slot that comes due while the clients run but cannot reach it (here
// its row is locked; the database being down does the same) is not
// skipped for lateness, whatever the policy: it runs once, late.
func TestPeriodicLateSlotRunsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	clock, hour, cfg := onTheHour()
	clock.Set(hour.Add(time.Second))
	startPeriodic(t, b.db, cfg("w"), jobs.PeriodicJob{Name: "report", Kind: "tick", Schedule: jobs.Every(time.Minute)})
	waitFor(t, 10*time.Second, "the schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	tx, err := b.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM seatbelt_jobs_periodic WHERE name = 'report' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	clock.Set(hour.Add(time.Minute + 30*time.Second)) // the :01 slot passes while the row is locked, far past the 5 s window
	time.Sleep(300 * time.Millisecond)
	if n := len(slots(t, b.db, "report")); n != 0 {
		t.Fatalf("%d jobs while the row was locked", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the late slot", func() bool { return len(slots(t, b.db, "report")) == 1 })
	time.Sleep(300 * time.Millisecond) // six more looks
	if got := slots(t, b.db, "report"); len(got) != 1 || !got[0].Equal(hour.Add(time.Minute)) {
		t.Fatalf("slots %v; want :01 once", got)
	}
}

// A new build that changes only the jobs' args (or priority) is a changed
// schedule too: the older client defers, so every job has the new args.
func TestPeriodicArgsChangeTakesEffectOnDeploy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	clock, hour, cfg := onTheHour()
	old := jobs.PeriodicJob{Name: "report", Kind: "tick", Schedule: jobs.Every(10 * time.Minute), Args: map[string]int{"v": 1}}
	startPeriodic(t, b.db, cfg("old"), old)
	waitFor(t, 10*time.Second, "the old schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	clock.Advance(time.Second)
	changed := old
	changed.Args, changed.Priority = map[string]int{"v": 2}, 3
	startPeriodic(t, b.db, cfg("new"), changed)
	waitFor(t, 10*time.Second, "the new schedule stored", func() bool {
		info, err := jobs.Periodic(ctx, b.db)
		sum := sha256.Sum256([]byte(`{"v":2}`))
		return err == nil && len(info) == 1 && strings.HasSuffix(info[0].Schedule, ", priority 3, args sha256:"+hex.EncodeToString(sum[:8])+")")
	})
	for _, m := range []int{10, 20, 30} {
		clock.Set(hour.Add(time.Duration(m)*time.Minute + time.Second))
		time.Sleep(300 * time.Millisecond)
	}
	// The slots after the deploy run with the new args. (The slot on the
	// hour, due as the new build started, goes to whichever build's round
	// came first: the new one fires a slot still on time that the old one
	// had not, rather than drop it.)
	var after []string
	for _, m := range []int{10, 20, 30} {
		after = append(after, "periodic:report:"+hour.Add(time.Duration(m)*time.Minute).UTC().Format(time.RFC3339))
	}
	if n := count(t, b.db, `SELECT count(*) FROM seatbelt_jobs WHERE unique_key = ANY($1) AND args = '{"v":2}' AND priority = 3`, after); n != 3 {
		t.Fatalf("%d of the 3 slots' jobs after the deploy have the new args and priority (slots %v)", n, slots(t, b.db, "report"))
	}
}

// "@every" keeps the slots of Every, the same on every replica, and a
// time zone in the expression, which would override Location, is refused.
func TestCronEveryAndTimeZones(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 7, 123, time.UTC)
	s, err := jobs.Cron("@every 90s")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Next(at), jobs.Every(90*time.Second).Next(at); !got.Equal(want) || s.String() != "@every 90s" {
		t.Errorf("@every 90s: next after %v is %v (%q); want %v", at, got, s, want)
	}
	// Not truncated to whole seconds: every 1 s would run half as often
	// again as asked.
	s, err = jobs.Cron("@every 1500ms")
	if err != nil {
		t.Fatal(err)
	}
	for t0, i := at, 0; i < 4; i++ {
		got, want := s.Next(t0), jobs.Every(1500*time.Millisecond).Next(t0)
		if !got.Equal(want) || got.Sub(t0) > 1500*time.Millisecond {
			t.Fatalf("@every 1500ms: next after %v is %v; want %v", t0, got, want)
		}
		t0 = got
	}
	for _, spec := range []string{"CRON_TZ=Europe/Berlin 0 3 * * *", " TZ=Asia/Tokyo 0 3 * * *"} {
		if _, err := jobs.Cron(spec); err == nil || !strings.Contains(err.Error(), "set PeriodicJob.Location") {
			t.Errorf("%q: %v", spec, err)
		}
	}
}

// Liveness is read on the database's clock: a newer client whose own clock
// steps back keeps its schedule from the older one, which would otherwise
// see it stop saying it runs.
func TestPeriodicNewerClientsClockSteppingBackKeepsItsSchedule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	blue := jobs.PeriodicJob{Name: "report", Kind: "tick", Schedule: jobs.Every(time.Hour)}
	startPeriodic(t, b.db, periodicConfig("blue"), blue)
	waitFor(t, 10*time.Second, "blue's schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	clock := newFakeClock()
	clock.Set(time.Now().Add(time.Second)) // started after blue
	cfg := periodicConfig("green")
	cfg.Now = clock.Now
	green := blue
	green.Schedule = jobs.Every(2 * time.Hour)
	startPeriodic(t, b.db, cfg, green)
	greenStored := func() bool {
		return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic WHERE schedule LIKE 'every 2h%'") == 1
	}
	waitFor(t, 10*time.Second, "green's schedule stored", greenStored)
	clock.Set(clock.Now().Add(-6 * time.Second))
	// Green's clock then runs at the wall clock's pace, 6 s behind, for
	// longer than blue's window.
	for begun := time.Now(); time.Since(begun) < 13*time.Second; time.Sleep(100 * time.Millisecond) {
		clock.Advance(100 * time.Millisecond)
		if !greenStored() {
			t.Fatalf("%v after green's clock stepped back, blue took the schedule back while green ran it", time.Since(begun).Round(time.Second))
		}
	}
}

// On a fake clock, a schedule of a second and a half fires at each of its
// slots once: none truncated to the second, none doubled.
func TestPeriodicEveryFractionOfASecond(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clock, hour, cfg := onTheHour()
	startPeriodic(t, b.db, cfg("w"), jobs.PeriodicJob{Name: "fast", Kind: "tick", Schedule: jobs.MustCron("@every 1500ms")})
	waitFor(t, 10*time.Second, "the schedule stored", func() bool { return count(t, b.db, "SELECT count(*) FROM seatbelt_jobs_periodic") == 1 })
	var want []time.Time
	for i := 1; i <= 3; i++ {
		slot := hour.Add(time.Duration(i) * 1500 * time.Millisecond)
		want = append(want, slot)
		clock.Set(slot)
		waitFor(t, 10*time.Second, fmt.Sprintf("slot %v", slot), func() bool { return len(slots(t, b.db, "fast")) >= i })
	}
	time.Sleep(300 * time.Millisecond) // six looks, for a doubled slot to show
	if got := slots(t, b.db, "fast"); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Fatalf("slots %v; want %v", got, want)
	}
}
