package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

var clientSeq atomic.Int64

// MaxWorkersLimit bounds MaxWorkers and FetchBatch: a claim asks for at
// most that many jobs of a queue in one statement.
const MaxWorkersLimit = 1 << 20

// Config tunes a [Client]. The zero value is ready to use: a zero field
// means its default, given at the end of its comment. A negative duration
// or count is refused by [NewClient] with [ErrInvalidConfig] (no field
// takes a negative value to mean "none").
type Config struct {
	// WorkerID names this worker in the job history, in leases and in the
	// leader election; it must be unique among running clients. Defaults
	// to "<hostname>-<pid>-<n>", n counting the clients of the process.
	WorkerID string
	// MaxWorkers is how many stages of one queue run at once in this
	// client, for each queue in Queues that sets no MaxWorkers of its own.
	// Defaults to 100.
	MaxWorkers int
	// Queues are the queues this client claims jobs from, by name (see
	// EnqueueOpts.Queue). Jobs of other queues are left to clients that
	// work them. A queue paused in the database ([PauseQueue]) is claimed
	// from by no client until it is resumed. Defaults to the one queue
	// [DefaultQueue] with MaxWorkers.
	Queues map[string]QueueConfig
	// FetchBatch is the most jobs of one queue claimed by one query.
	// Defaults to MaxWorkers.
	FetchBatch int
	// FetchCooldown is the least time between two claim queries, so a busy
	// queue is not polled in a tight loop. Defaults to 5 milliseconds.
	FetchCooldown time.Duration
	// PollInterval is how often the client looks for work when no
	// notification arrives (notifications can be lost, and scheduled jobs
	// become due without one). Defaults to 1 second, or to 50 milliseconds
	// when the client polls only: when the pool goes through a connection
	// pooler and Direct is nil.
	PollInterval time.Duration
	// Direct connects the client's listener, which LISTENs for new work
	// and for cancels and so needs a session of its own, straight to the
	// server past a connection pooler (PgBouncer in transaction mode hands
	// each transaction a different server connection, and a LISTEN made
	// through it hears nothing). Parse it from the direct URL with
	// pgx.ParseConfig. Defaults to nil: the listener connects with the
	// pool's settings, unless Start finds the pool behind a pooler; then
	// the client does without a listener, says so once in the log, looks
	// for work every PollInterval and sees a cancel at the next heartbeat
	// (HeartbeatInterval) instead of at once.
	Direct *pgx.ConnConfig
	// Lease is how long a claimed stage belongs to its worker without a
	// heartbeat, on the database's clock. A stage whose worker died is
	// claimed again after it expires. Defaults to 30 seconds; at least 1
	// second. (Every duration here has a least value, 1ms unless it says
	// otherwise, so that a number given without a unit, which is
	// nanoseconds, is refused rather than run.)
	Lease time.Duration
	// HeartbeatInterval is how often running stages' leases are renewed.
	// Defaults to Lease/3.
	HeartbeatInterval time.Duration
	// LeaderInterval is how often the leader rescues expired leases and
	// counts the jobs by state for the Observer, and how often the others
	// try to become leader.
	// Defaults to 1 second.
	LeaderInterval time.Duration
	// PeriodicInterval is how often the client looks for due slots of its
	// periodic jobs ([Client.AddPeriodic]); a slot found more than
	// max(5 s, 3×PeriodicInterval) after it passed counts as late (if the
	// client ran then) or missed.
	// Defaults to 1 second.
	PeriodicInterval time.Duration
	// StageTimeout bounds a stage that sets no Timeout of its own.
	// Defaults to 5 minutes.
	StageTimeout time.Duration
	// MaxAttempts is how often a stage that sets no MaxAttempts of its own
	// is tried before the job fails. Defaults to 5.
	MaxAttempts int
	// Backoff returns the wait before retry number attempt (1 for the first
	// retry) of a stage that sets no Backoff of its own; it is called only
	// for retries that will happen, so attempt is at most MaxAttempts-1.
	// One that panics is logged and DefaultBackoff used. Defaults to
	// [DefaultBackoff].
	Backoff func(attempt int) time.Duration
	// Retention is how long succeeded, cancelled and cleaned jobs are kept
	// (with their history and ledger) before the leader deletes them.
	// Failed jobs are kept until an operator acts, and so is a job whose
	// cleanup began and has not finished, until the cleanup is run to its
	// end: its ledger is the only record of what is left. Defaults to 7 days;
	// at least 1 minute.
	Retention time.Duration
	// Deleters maps a table name (as given to Track) to the function that
	// deletes its entities during Cleanup. Start checks each against its
	// table (see [Deleter]) and fails if one refuses. Defaults to none:
	// every table a job records must be registered before that job can be
	// cleaned up.
	Deleters map[string]Deleter
	// Logger receives the client's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// TracerProvider makes the span of each stage. Defaults to
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Observer receives what the client does (stage outcomes, job starts,
	// rescues, the leader's count of jobs by state), for metrics:
	// jobsprom.NewCollector returns one that exports them to Prometheus.
	// Defaults to none.
	Observer Observer
	// Now is the clock used for claims, backoff, retention, periodic slots
	// and the times the client writes; leases are on the database's clock.
	// [Enqueue] takes no client and so uses the wall clock: a test whose
	// clock lags it sets EnqueueOpts.RunAt from this clock, or its jobs are
	// not due yet. Replicas compare each other's stamps, so Start warns
	// when it is more than a second off the database's clock. Defaults to
	// time.Now.
	Now func() time.Time
}

// QueueConfig tunes one of the queues a client works.
type QueueConfig struct {
	// MaxWorkers is how many stages of this queue run at once in the
	// client. Defaults to Config.MaxWorkers.
	MaxWorkers int
}

// DefaultBackoff waits 1 s before the first retry and doubles each time, up
// to 10 minutes.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 10 {
		return 10 * time.Minute
	}
	return min(time.Second<<(attempt-1), 10*time.Minute)
}

// withDefaults returns a copy of c with the defaults filled in, or an
// error wrapping ErrInvalidConfig that names every field set wrong.
func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	var errs []error
	// Each duration has a floor besides: a number given without a unit
	// (Lease: 30, meant as seconds) is nanoseconds, and taken as such it
	// made every stage's lease expire at once (the stage ran again and
	// again beside itself), a loop query without pause, or the retention
	// delete every ended job.
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  string
		min  time.Duration
	}{
		{"FetchCooldown", &o.FetchCooldown, "5ms", time.Millisecond},
		{"PollInterval", &o.PollInterval, "1s, or 50ms polling only", time.Millisecond},
		{"Lease", &o.Lease, "30s", time.Second},
		{"HeartbeatInterval", &o.HeartbeatInterval, "Lease/3", time.Millisecond},
		{"LeaderInterval", &o.LeaderInterval, "1s", time.Millisecond},
		{"PeriodicInterval", &o.PeriodicInterval, "1s", time.Millisecond},
		{"StageTimeout", &o.StageTimeout, "5m", time.Millisecond},
		{"Retention", &o.Retention, "7 days, 168h", time.Minute},
	} {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("field Config.%s is %s; set a positive duration, or 0 for the default (%s)", f.name, *f.v, f.def))
		case *f.v > 0 && *f.v < f.min:
			errs = append(errs, fmt.Errorf("field Config.%s is %s, below its least, %s; a number without a unit is nanoseconds: give the unit (30 * time.Second, not 30), or 0 for the default (%s)", f.name, *f.v, f.min, f.def))
		}
	}
	for _, f := range []struct {
		name string
		v    int
		def  string
	}{
		{"MaxWorkers", o.MaxWorkers, "100"},
		{"FetchBatch", o.FetchBatch, "MaxWorkers"},
		{"MaxAttempts", o.MaxAttempts, "5"},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("field Config.%s is %d; set a positive number, or 0 for the default (%s)", f.name, f.v, f.def))
		}
		if f.v > MaxWorkersLimit && f.name != "MaxAttempts" {
			errs = append(errs, fmt.Errorf("field Config.%s is %d; the most is %d (MaxWorkersLimit)", f.name, f.v, MaxWorkersLimit))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.Queues)) {
		if err := CheckQueueName(name); err != nil {
			errs = append(errs, fmt.Errorf("field Config.Queues: %w", err))
		}
		if n := o.Queues[name].MaxWorkers; n < 0 {
			errs = append(errs, fmt.Errorf("field Config.Queues[%q].MaxWorkers is %d; set a positive number, or 0 for Config.MaxWorkers", name, n))
		} else if n > MaxWorkersLimit {
			errs = append(errs, fmt.Errorf("field Config.Queues[%q].MaxWorkers is %d; the most is %d (MaxWorkersLimit)", name, n, MaxWorkersLimit))
		}
	}
	if o.Direct != nil && o.Direct.ConnString() == "" {
		errs = append(errs, errors.New("field Config.Direct was not made by pgx.ParseConfig, which pgx requires; parse it from the direct URL: pgx.ParseConfig(os.Getenv(\"DATABASE_DIRECT_URL\"))"))
	}
	for _, table := range slices.Sorted(maps.Keys(o.Deleters)) {
		if o.Deleters[table] == nil {
			errs = append(errs, fmt.Errorf("field Config.Deleters[%q] is nil; give it a Deleter such as jobs.DeleteByColumn(\"id\"), or leave the table out", table))
		}
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	if o.WorkerID == "" {
		host, _ := os.Hostname()
		o.WorkerID = host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(clientSeq.Add(1), 10)
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = 100
	}
	if o.FetchBatch == 0 {
		o.FetchBatch = o.MaxWorkers
	}
	queues := map[string]QueueConfig{}
	for name, q := range o.Queues {
		if q.MaxWorkers == 0 {
			q.MaxWorkers = o.MaxWorkers
		}
		queues[name] = q
	}
	if len(queues) == 0 {
		queues[DefaultQueue] = QueueConfig{MaxWorkers: o.MaxWorkers}
	}
	o.Queues = queues
	if o.FetchCooldown == 0 {
		o.FetchCooldown = 5 * time.Millisecond
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = o.Lease / 3
	}
	if o.HeartbeatInterval >= o.Lease {
		return o, fmt.Errorf("%w: Config.HeartbeatInterval (%s) is not shorter than Config.Lease (%s), so leases would expire between heartbeats; lower HeartbeatInterval, or set it to 0 for Lease/3",
			ErrInvalidConfig, o.HeartbeatInterval, o.Lease)
	}
	if o.LeaderInterval == 0 {
		o.LeaderInterval = time.Second
	}
	if o.PeriodicInterval == 0 {
		o.PeriodicInterval = time.Second
	}
	if o.StageTimeout == 0 {
		o.StageTimeout = 5 * time.Minute
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Retention == 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
