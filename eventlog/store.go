package eventlog

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// notifyChannel is the LISTEN/NOTIFY channel that wakes consumers.
const notifyChannel = "eventlog"

// Config tunes a [Store]. The zero value (or nil) gives the defaults.
type Config struct {
	// Writer names the build that writes records; it is stored on every
	// record so a bad deploy's writes can be found and reverted. Defaults
	// to the main module's VCS revision from the build info (with "+dirty"
	// when the tree was modified), else its module version, else "unknown".
	Writer string
	// Tracer, if set, gets a span per append and per consumer batch
	// ("eventlog.append", "eventlog.consume"). Defaults to no spans.
	Tracer trace.Tracer
	// NotifyInterval is the least time between two of the NOTIFYs that
	// wake consumers after pool appends. A NOTIFY is a small transaction of
	// its own, so under heavy writing this bounds their cost (200 a second
	// by default) at the price of up to this much delivery latency; an
	// append after a quiet spell notifies at once. Defaults to 5
	// milliseconds.
	NotifyInterval time.Duration
	// Logger receives consumer state changes and retries. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Store reads and appends records. It is safe for concurrent use. Call
// Close when done so the background wake-up notification finishes.
type Store struct {
	pool     *pgxpool.Pool
	writer   string
	tracer   trace.Tracer
	logger   *slog.Logger
	notify   notifier
	coalesce coalescer
}

// New returns a Store over pool, whose database must have [Migrations]
// applied.
func New(pool *pgxpool.Pool, cfg *Config) (*Store, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if pool == nil {
		return nil, fmt.Errorf("%w: the pool is nil", ErrBadConfig)
	}
	if c.Writer == "" {
		c.Writer = DefaultWriter()
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("eventlog")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NotifyInterval < 0 {
		return nil, fmt.Errorf("%w: Config.NotifyInterval is negative", ErrBadConfig)
	}
	if c.NotifyInterval == 0 {
		c.NotifyInterval = 5 * time.Millisecond
	}
	s := &Store{pool: pool, writer: c.Writer, tracer: c.Tracer, logger: c.Logger}
	s.notify.pool = pool
	s.notify.logger = c.Logger
	s.notify.gap = c.NotifyInterval
	s.notify.idle.L = &s.notify.mu
	s.coalesce.s = s
	s.coalesce.idle.L = &s.coalesce.mu
	return s, nil
}

// Writer returns the writer name stored on this Store's records.
func (s *Store) Writer() string { return s.writer }

// Close waits until no append statement of the Store's flushers and no
// wake-up notification is in flight, so call it once the service has
// stopped appending. The Store stays usable; Close only makes shutdown
// tidy.
func (s *Store) Close() {
	s.coalesce.wait()
	s.notify.wait()
}

// DefaultWriter is the writer a [Store] uses when Config.Writer is empty.
func DefaultWriter() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		return rev + dirty
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "unknown"
}
