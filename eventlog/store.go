package eventlog

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// notifyChannel is the LISTEN/NOTIFY channel that wakes consumers.
const notifyChannel = "eventlog"

// tracerName is the instrumentation name of the Store's tracer: the
// package's import path.
const tracerName = "github.com/seatbelt-go/seatbelt/eventlog"

const defaultNotifyInterval = 5 * time.Millisecond

// Config tunes a [Store]. The zero value (or nil) gives the defaults.
type Config struct {
	// Writer names the build that writes records; it is stored on every
	// record so a bad deploy's writes can be found and reverted. Defaults
	// to the main module's VCS revision from the build info (with "+dirty"
	// when the tree was modified), else its module version, else "unknown".
	Writer string
	// TracerProvider makes a span per append and per consumer batch
	// ("eventlog.append", "eventlog.consume"), from the tracer named
	// "github.com/seatbelt-go/seatbelt/eventlog". Defaults to
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
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
	// Direct connects consumers straight to the server, past a connection
	// pooler, for the session each active consumer keeps: its advisory
	// lock (one active instance per name) and its LISTEN (woken at once on
	// new records). PgBouncer in transaction mode keeps neither. Parse it
	// from the direct URL with pgx.ParseConfig; a consumer or group member
	// refuses to start when it reaches another database or server than the
	// pool. Defaults to nil: consumers connect with the pool's settings,
	// unless the pool goes through a pooler; then they do without a session
	// (see "Behind a connection pooler" in the package doc).
	Direct *pgx.ConnConfig
}

// Store reads and appends records. It is safe for concurrent use. Call
// Close when done so the background wake-up notification finishes.
type Store struct {
	pool     *pgxpool.Pool
	funcs    bool // call the append functions (functions.go)
	describe bool // ... in cache_describe mode (statement)
	direct   *pgx.ConnConfig
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
		return nil, fmt.Errorf("%w: the pool is nil; pass the *pgxpool.Pool of the database that has eventlog.Migrations applied", ErrInvalidConfig)
	}
	if c.Writer == "" {
		c.Writer = DefaultWriter()
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Direct != nil && c.Direct.ConnString() == "" {
		return nil, fmt.Errorf("%w: Config.Direct was not made by pgx.ParseConfig, which pgx requires; parse it from the direct URL: pgx.ParseConfig(os.Getenv(\"DATABASE_DIRECT_URL\"))", ErrInvalidConfig)
	}
	if c.NotifyInterval < 0 {
		return nil, fmt.Errorf("%w: Config.NotifyInterval is %s; use a positive duration, or 0 for the default (%s)",
			ErrInvalidConfig, c.NotifyInterval, defaultNotifyInterval)
	}
	if c.NotifyInterval == 0 {
		c.NotifyInterval = defaultNotifyInterval
	}
	s := &Store{pool: pool, funcs: usesFunctions(pool.Config().ConnConfig), describe: callsInCacheDescribe(pool.Config().ConnConfig), direct: c.Direct, writer: c.Writer, tracer: c.TracerProvider.Tracer(tracerName), logger: c.Logger}
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
