package graceful

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"syscall"
	"time"
)

// Config tunes [Run]. A nil *Config and zero fields mean the defaults, which
// fit Kubernetes' default terminationGracePeriodSeconds of 30. A duration
// field is zero for its default or positive; the fields whose doc says so
// also take [None], and [Run] refuses any other negative value with
// [ErrInvalidConfig].
type Config struct {
	// ProbeAddr is where /livez, /readyz, /startupz (and /metrics, when
	// Metrics is set) are served. Set it to "-" to serve no probes.
	// Defaults to ":8081".
	ProbeAddr string

	// Metrics, when set, is mounted on the probe server at /metrics.
	// Defaults to nil (no /metrics).
	Metrics http.Handler

	// ShutdownDelay is how long the service keeps accepting and serving new
	// requests after readiness dropped, so that endpoints and load balancers
	// take the pod out of rotation before it stops listening. Set [None] for
	// no delay (when a preStop hook already waits, or in tests).
	// Defaults to 5 seconds.
	ShutdownDelay time.Duration

	// DrainTimeout is how long requests in flight when the listeners close
	// may take to finish. At its end their contexts are cancelled.
	// Defaults to 15 seconds.
	DrainTimeout time.Duration

	// HookTimeout bounds each stop hook that does not set its own timeout,
	// and is the time reserved for background loops and stop hooks when the
	// config is checked against StopTimeout. Defaults to 5 seconds.
	HookTimeout time.Duration

	// StopTimeout is the whole stop budget, from the first signal to exit.
	// When it runs out the process exits non-zero and logs what was still
	// running. Keep it below terminationGracePeriodSeconds so the service,
	// not the kubelet's SIGKILL, decides how it ends. Defaults to 28 seconds.
	StopTimeout time.Duration

	// StartupTimeout is how long each startup gate is retried before the
	// service gives up and exits non-zero. Defaults to 5 minutes.
	StartupTimeout time.Duration

	// CheckTimeout bounds each readiness check run by a /readyz request.
	// Defaults to 1 second.
	CheckTimeout time.Duration

	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are given to each
	// *http.Server passed to [App.Serve] (and to the probe server) whose
	// own field is zero, which net/http reads as "no limit": without them a
	// client that sends a request slowly, or keeps a connection open and
	// idle, holds a connection and a goroutine for as long as it likes, and
	// enough such clients exhaust the process. A server's own non-zero value
	// wins; net/http reads a negative one as "no limit", which is how a
	// server asks for none. [None] here leaves every server's zero alone, so
	// no server gets that limit. Serve logs the ones it applied.

	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers. Set [None] for no limit. Defaults to 10 seconds.
	ReadHeaderTimeout time.Duration

	// ReadTimeout bounds how long a client may take to send a whole request,
	// headers and body; a handler still reading the body then gets an
	// i/o timeout. It does not limit how long the handler runs or
	// writes (there is deliberately no WriteTimeout: DrainTimeout bounds
	// handlers on stop). Raise it for large uploads over slow links. Set
	// [None] for no limit. Defaults to 30 seconds.
	ReadTimeout time.Duration

	// IdleTimeout bounds how long a keep-alive connection waits for its next
	// request before the server closes it. Keep it above the idle timeout of
	// the proxies and load balancers in front of the service (60 seconds for
	// AWS ALB and ingress-nginx; about 600 for Google Cloud's, behind which
	// raise it), so that they close idle connections first: a server
	// closing a connection just as a proxy reuses it fails that request.
	// Set [None] for no limit. Defaults to 2 minutes.
	IdleTimeout time.Duration

	// Signals start the stop sequence; a second one during it exits at once
	// with 128 + the signal number. Defaults to SIGTERM and SIGINT.
	Signals []os.Signal

	// Logger receives one line per lifecycle phase. Defaults to slog.Default().
	Logger *slog.Logger

	// OnPhase, when set, is called as the service enters each phase:
	// "ready" (took = startup time), "stopping" (took = 0), "drained" and
	// "stopped" (took = time since the stop began). It feeds metrics such
	// as readiness and shutdown duration without this package depending on
	// a metrics library. It must not block. Defaults to nil.
	OnPhase func(phase string, took time.Duration)
}

// The defaults, exported so that manifests and their tests can be checked
// against them (terminationGracePeriodSeconds must exceed DefaultStopTimeout
// plus any preStop pause).
const (
	DefaultProbeAddr      = ":8081"
	DefaultShutdownDelay  = 5 * time.Second
	DefaultDrainTimeout   = 15 * time.Second
	DefaultHookTimeout    = 5 * time.Second
	DefaultStopTimeout    = 28 * time.Second
	DefaultStartupTimeout = 5 * time.Minute
	DefaultCheckTimeout   = time.Second

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// None asks a [Config] duration field whose doc offers it for none at all:
// no shutdown delay, no server timeout. Zero cannot say this, because zero
// always means the field's default. None is the only negative value a
// Config accepts, and only in those fields.
const None time.Duration = -1

// ErrInvalidConfig is matched by every configuration error.
var ErrInvalidConfig = errors.New("graceful: invalid config")

// withDefaults returns a copy of cfg with defaults filled in, or an error that
// names each offending field.
func (cfg *Config) withDefaults() (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.ProbeAddr == "" {
		c.ProbeAddr = DefaultProbeAddr
	}
	var errs []error
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
		none string // what None means for the field; "" when it takes no None
	}{
		{"ShutdownDelay", &c.ShutdownDelay, DefaultShutdownDelay, "no delay"},
		{"DrainTimeout", &c.DrainTimeout, DefaultDrainTimeout, ""},
		{"HookTimeout", &c.HookTimeout, DefaultHookTimeout, ""},
		{"StopTimeout", &c.StopTimeout, DefaultStopTimeout, ""},
		{"StartupTimeout", &c.StartupTimeout, DefaultStartupTimeout, ""},
		{"CheckTimeout", &c.CheckTimeout, DefaultCheckTimeout, ""},
		{"ReadHeaderTimeout", &c.ReadHeaderTimeout, DefaultReadHeaderTimeout, "no limit"},
		{"ReadTimeout", &c.ReadTimeout, DefaultReadTimeout, "no limit"},
		{"IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout, "no limit"},
	}
	for _, d := range durations {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v == None && d.none != "":
			*d.v = 0 // from here on, zero is "none": the runner acts only on positive values
		case *d.v == None:
			errs = append(errs, fmt.Errorf("field Config.%s is graceful.None, which it does not take; set a positive duration, or zero for the default %v", d.name, d.def))
		case *d.v < 0 && d.none != "":
			errs = append(errs, fmt.Errorf("field Config.%s is %v; set a positive duration, graceful.None for %s, or zero for the default %v", d.name, *d.v, d.none, d.def))
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("field Config.%s is %v; set a positive duration, or zero for the default %v", d.name, *d.v, d.def))
		}
	}
	if sum := c.ShutdownDelay + c.DrainTimeout + c.HookTimeout; len(errs) == 0 && sum > c.StopTimeout {
		errs = append(errs, fmt.Errorf("fields Config.ShutdownDelay (%v) + Config.DrainTimeout (%v) + Config.HookTimeout (%v) = %v does not fit in Config.StopTimeout (%v): raise StopTimeout (and terminationGracePeriodSeconds with it) or lower the others",
			c.ShutdownDelay, c.DrainTimeout, c.HookTimeout, sum, c.StopTimeout))
	}
	if c.ReadTimeout > 0 && c.ReadTimeout < c.ReadHeaderTimeout {
		errs = append(errs, fmt.Errorf("field Config.ReadTimeout (%v) is shorter than Config.ReadHeaderTimeout (%v): a whole request cannot arrive before its headers; raise ReadTimeout or lower ReadHeaderTimeout",
			c.ReadTimeout, c.ReadHeaderTimeout))
	}
	if len(c.Signals) == 0 {
		c.Signals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnPhase == nil {
		c.OnPhase = func(string, time.Duration) {}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return c, nil
}
