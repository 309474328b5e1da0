package jobs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestConfigAndRegistrationErrorsNameTheFieldAndTheFix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		cfg  jobs.Config
		want string
	}{
		{jobs.Config{FetchCooldown: -time.Second}, "field Config.FetchCooldown is -1s; set a positive duration, or 0 for the default (5ms)"},
		{jobs.Config{Direct: &pgx.ConnConfig{}}, `field Config.Direct was not made by pgx.ParseConfig, which pgx requires; parse it from the direct URL: pgx.ParseConfig(os.Getenv("DATABASE_DIRECT_URL"))`},
		{jobs.Config{PollInterval: -time.Second}, "field Config.PollInterval is -1s; set a positive duration, or 0 for the default (1s, or 50ms polling only)"},
		{jobs.Config{Lease: -time.Second}, "field Config.Lease is -1s; set a positive duration, or 0 for the default (30s)"},
		{jobs.Config{HeartbeatInterval: -time.Second}, "field Config.HeartbeatInterval is -1s; set a positive duration, or 0 for the default (Lease/3)"},
		{jobs.Config{LeaderInterval: -time.Second}, "field Config.LeaderInterval is -1s; set a positive duration, or 0 for the default (1s)"},
		{jobs.Config{StageTimeout: -time.Second}, "field Config.StageTimeout is -1s; set a positive duration, or 0 for the default (5m)"},
		{jobs.Config{Retention: -time.Hour}, "field Config.Retention is -1h0m0s; set a positive duration, or 0 for the default (7 days, 168h)"},
		// A number without a unit: 30 meant as seconds is 30ns. Taken as is,
		// every lease expired at once, or the heartbeat's ticker panicked.
		{jobs.Config{Lease: 30}, "field Config.Lease is 30ns, below its least, 1s; a number without a unit is nanoseconds: give the unit (30 * time.Second, not 30), or 0 for the default (30s)"},
		{jobs.Config{Lease: 2}, "field Config.Lease is 2ns, below its least, 1s; a number without a unit is nanoseconds: give the unit (30 * time.Second, not 30), or 0 for the default (30s)"},
		{jobs.Config{PollInterval: 5}, "field Config.PollInterval is 5ns, below its least, 1ms; a number without a unit is nanoseconds: give the unit (30 * time.Second, not 30), or 0 for the default (1s, or 50ms polling only)"},
		{jobs.Config{Retention: 7}, "field Config.Retention is 7ns, below its least, 1m0s; a number without a unit is nanoseconds: give the unit (30 * time.Second, not 30), or 0 for the default (7 days, 168h)"},
		{jobs.Config{Lease: time.Second, HeartbeatInterval: 2 * time.Second}, "Config.HeartbeatInterval (2s) is not shorter than Config.Lease (1s), so leases would expire between heartbeats; lower HeartbeatInterval, or set it to 0 for Lease/3"},
		{jobs.Config{MaxWorkers: -1}, "field Config.MaxWorkers is -1; set a positive number, or 0 for the default (100)"},
		{jobs.Config{FetchBatch: -1}, "field Config.FetchBatch is -1; set a positive number, or 0 for the default (MaxWorkers)"},
		{jobs.Config{MaxAttempts: -1}, "field Config.MaxAttempts is -1; set a positive number, or 0 for the default (5)"},
		{jobs.Config{Deleters: map[string]jobs.Deleter{"orders": nil}}, `field Config.Deleters["orders"] is nil; give it a Deleter such as jobs.DeleteByColumn("id"), or leave the table out`},
		{jobs.Config{Queues: map[string]jobs.QueueConfig{"": {}}}, `field Config.Queues: the queue name is empty; name it, or leave it out for "default"`},
		{jobs.Config{Queues: map[string]jobs.QueueConfig{"import": {MaxWorkers: -1}}}, `field Config.Queues["import"].MaxWorkers is -1; set a positive number, or 0 for Config.MaxWorkers`},
		// Past what a claim's count can hold (it would wrap to nothing).
		{jobs.Config{MaxWorkers: 1 << 32}, "field Config.MaxWorkers is 4294967296; the most is 1048576 (MaxWorkersLimit)"},
		{jobs.Config{FetchBatch: 1 << 31}, "field Config.FetchBatch is 2147483648; the most is 1048576 (MaxWorkersLimit)"},
		{jobs.Config{Queues: map[string]jobs.QueueConfig{"import": {MaxWorkers: 1 << 21}}}, `field Config.Queues["import"].MaxWorkers is 2097152; the most is 1048576 (MaxWorkersLimit)`},
	} {
		_, err := jobs.NewClient(b.db, &tc.cfg)
		if !errors.Is(err, jobs.ErrInvalidConfig) || err.Error() != "jobs: invalid config: "+tc.want {
			t.Errorf("%+v:\n got %v\nwant jobs: invalid config: %s", tc.cfg, err, tc.want)
		}
	}
	// Every field set wrong is named at once.
	_, err := jobs.NewClient(b.db, &jobs.Config{Lease: -time.Second, MaxWorkers: -2, Retention: -time.Minute})
	for _, field := range []string{"Config.Lease", "Config.MaxWorkers", "Config.Retention"} {
		if !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("three fields wrong: %v does not name %s", err, field)
		}
	}
	if _, err := jobs.NewClient(nil, nil); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), "pass the *pgxpool.Pool") {
		t.Errorf("nil db: %v", err)
	}
	if err := jobs.ErrInvalidConfig.Error(); err != "jobs: invalid config" {
		t.Errorf("ErrInvalidConfig says %q", err)
	}

	// Zero durations are the defaults: a client so configured starts.
	c, err := jobs.NewClient(b.db, &jobs.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, *jobs.StageRun) error { return nil }
	for _, tc := range []struct {
		kind jobs.Kind
		want string
	}{
		{jobs.Kind{}, "Kind.Name is empty; give the kind"},
		{jobs.Kind{Name: "k"}, "Kind.Stages is empty; give it at least one stage"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Run: noop}}}, "Stages[0].Name is empty; name every stage"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a"}}}, "has no Run; give it"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}, {Name: "a", Run: noop}}}, `two stages are named "a"; give each`},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop, Timeout: -time.Second}}}, "Stage.Timeout is -1s; set a positive duration, or 0 for Config.StageTimeout"},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop, MaxAttempts: -1}}}, "Stage.MaxAttempts is -1; set a positive number, or 0 for Config.MaxAttempts"},
		// Names PostgreSQL's text refuses would fail every claim, which
		// sends all kinds and stages in one statement.
		{jobs.Kind{Name: "k\x00", Stages: []jobs.Stage{{Name: "a", Run: noop}}}, `Kind.Name "k\x00" is not valid UTF-8 text without NUL bytes`},
		{jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a\xff", Run: noop}}}, `Stages[0]: the stage name "a\xff" is not valid UTF-8 text without NUL bytes`},
		{jobs.Kind{Name: strings.Repeat("k", 1001), Stages: []jobs.Stage{{Name: "a", Run: noop}}}, "is 1001 bytes; the most is 1000 (MaxNameLen)"},
	} {
		if err := c.Register(tc.kind); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.kind, err)
		}
	}
	if err := c.Register(jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(jobs.Kind{Name: "k", Stages: []jobs.Stage{{Name: "a", Run: noop}}}); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("a kind registered twice: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("a client with every default: %v", err)
	}
	if err := c.Register(jobs.Kind{Name: "late", Stages: []jobs.Stage{{Name: "a", Run: noop}}}); !errors.Is(err, jobs.ErrInvalidConfig) || !strings.Contains(err.Error(), "register every kind before starting") {
		t.Errorf("Register after Start: %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A client started on a database without this version's tables says which
// migrations are missing, instead of failing every claim.
func TestStartRefusesADatabaseWithoutTheMigrations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.db.Exec(ctx, "DROP TABLE seatbelt_jobs_periodic; ALTER TABLE seatbelt_jobs DROP COLUMN queue"); err != nil {
		t.Fatal(err)
	}
	c, err := jobs.NewClient(b.db, testConfig("w"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "lacks seatbelt_jobs.queue (0002), seatbelt_jobs_periodic (0004); apply jobs.Migrations") {
		t.Fatalf("start on a database behind: %v", err)
	}
	empty := migtest.New(t)
	c, err = jobs.NewClient(empty, testConfig("w"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err == nil || !strings.Contains(err.Error(), "lacks seatbelt_jobs (migration 0001); apply") {
		t.Fatalf("start on an empty database: %v", err)
	}
}
