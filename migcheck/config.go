package migcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"
)

// Config tunes a [Migrator]. The zero value (or nil) gives the defaults: a
// zero duration means its default, and a negative one is refused with
// [ErrInvalidConfig].
type Config struct {
	// LedgerTable is the table migcheck records each applied migration in
	// (set, version, file, checksum, when, by whom, how long). Defaults to
	// "seatbelt_migration_ledger".
	LedgerTable string
	// LockWait bounds how long Apply, Baseline and Force wait for another
	// runner to finish. Defaults to 10 minutes.
	LockWait time.Duration
	// LockPoll is how often Apply retries pg_try_advisory_lock while
	// waiting. Defaults to 500 milliseconds.
	LockPoll time.Duration
	// LockTimeout is the lock_timeout of migration sessions: a migration
	// waiting longer than this for a table lock fails with SQLSTATE 55P03
	// instead of queueing every query behind it. It is rounded up to whole
	// milliseconds. Defaults to 5 seconds.
	LockTimeout time.Duration
	// StatementTimeout is the statement_timeout of migration sessions,
	// rounded up to whole milliseconds. The context given to Apply also
	// stops a running migration (its statement is cancelled from another
	// session). Defaults to none (zero), since building an index may take
	// hours.
	StatementTimeout time.Duration
	// LockRetries is how many times a migration that failed on lock_timeout
	// is run again (only files that run in one transaction). Negative means
	// none. Defaults to 3.
	LockRetries int
	// RetryBackoff is the wait before the first lock_timeout retry; it
	// doubles for each further one. Defaults to 2 seconds.
	RetryBackoff time.Duration
	// AheadIsError makes a database ahead of the binary an error for Verify
	// instead of info. Defaults to false: during a rollout the old version
	// keeps running on the new schema.
	AheadIsError bool
	// BeforeApply runs once, holding the lock, when at least one migration
	// is pending, before any runs (take a backup here). An error stops
	// Apply. Defaults to nil.
	BeforeApply func(ctx context.Context, plan Plan) error
	// OnApplied runs after each migration is applied and recorded. Defaults
	// to nil.
	OnApplied func(ctx context.Context, applied Applied)
	// Hint says how the operator runs op, in the messages that tell them to
	// (after a failed migration, for pending or unrecorded versions). set
	// and version are the set and the version op concerns, where it has
	// them. A CLI returns its own command line here. Defaults to the
	// library call, such as "Migrator.Force(ctx, \"app\", 3)".
	Hint func(op Op, set string, version int64) string
	// Host is recorded as who applied a migration. Defaults to os.Hostname.
	Host string
	// BuildVersion is recorded beside Host. Defaults to the main module's
	// version and VCS revision from the build info.
	BuildVersion string
	// Logger receives one line per applied migration and lock waits.
	// Defaults to slog.Default().
	Logger *slog.Logger

	// Indexes are the indexes the service declares (see [IndexSet]). Verify
	// warns about each one that is missing or invalid: the service runs
	// without it, slowly. Defaults to none.
	Indexes *IndexSet
	// IndexLedgerTable is the table an [Indexer] records each build in (who,
	// when, how long, outcome). Defaults to "seatbelt_index_ledger".
	IndexLedgerTable string
	// OldTransaction is the age past which an [Indexer] reports, before a
	// build, a transaction the build will wait for. Defaults to 1 minute.
	OldTransaction time.Duration
	// ProgressInterval is how often an [Indexer] reads a build's progress
	// from pg_stat_progress_create_index. Defaults to 1 second.
	ProgressInterval time.Duration
}

// withDefaults returns a copy of c with the defaults filled in, or an error
// wrapping ErrInvalidConfig that names every field it cannot use.
func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	if o.LedgerTable == "" {
		o.LedgerTable = "seatbelt_migration_ledger"
	}
	if o.IndexLedgerTable == "" {
		o.IndexLedgerTable = "seatbelt_index_ledger"
	}
	var errs []error
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"LockWait", &o.LockWait, 10 * time.Minute},
		{"LockPoll", &o.LockPoll, 500 * time.Millisecond},
		{"LockTimeout", &o.LockTimeout, 5 * time.Second},
		{"StatementTimeout", &o.StatementTimeout, 0},
		{"RetryBackoff", &o.RetryBackoff, 2 * time.Second},
		{"OldTransaction", &o.OldTransaction, time.Minute},
		{"ProgressInterval", &o.ProgressInterval, time.Second},
	} {
		switch {
		case *d.v < 0 && d.def == 0:
			errs = append(errs, fmt.Errorf("field Config.%s is %v; use a positive duration, or 0 for none (the default)", d.name, *d.v))
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("field Config.%s is %v; use a positive duration, or 0 for the default %v", d.name, *d.v, d.def))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if o.LockRetries == 0 {
		o.LockRetries = 3
	} else if o.LockRetries < 0 {
		o.LockRetries = 0
	}
	if o.Hint == nil {
		o.Hint = defaultHint
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if o.BuildVersion == "" {
		o.BuildVersion = buildVersion()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Op is an operation of a [Migrator] that a message tells the operator to
// run; see Config.Hint.
type Op string

const (
	OpApply    Op = "apply"    // [Migrator.Apply]
	OpForce    Op = "force"    // [Migrator.Force] to version
	OpBaseline Op = "baseline" // [Migrator.Baseline]
	OpIndexes  Op = "indexes"  // [Indexer.Apply]

	// OpRecord is [Migrator.Baseline] with version named in
	// [BaselineOpts].Applied: an out-of-order version that was applied.
	OpRecord Op = "record"
)

func defaultHint(op Op, set string, version int64) string {
	switch op {
	case OpForce:
		return fmt.Sprintf("Migrator.Force(ctx, %q, %d, nil)", set, version)
	case OpBaseline:
		return "Migrator.Baseline(ctx, nil)"
	case OpRecord:
		return fmt.Sprintf("Migrator.Baseline(ctx, &BaselineOpts{Applied: map[string][]int64{%q: {%d}}})", set, version)
	case OpIndexes:
		return "Indexer.Apply"
	}
	return "Migrator.Apply"
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
