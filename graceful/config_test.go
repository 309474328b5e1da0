package graceful

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// durationFields reaches every duration field of a Config by name, with its
// default and whether it takes None.
func durationFields(c *Config) []struct {
	name     string
	v        *time.Duration
	def      time.Duration
	takeNone bool
} {
	return []struct {
		name     string
		v        *time.Duration
		def      time.Duration
		takeNone bool
	}{
		{"ShutdownDelay", &c.ShutdownDelay, DefaultShutdownDelay, true},
		{"DrainTimeout", &c.DrainTimeout, DefaultDrainTimeout, false},
		{"HookTimeout", &c.HookTimeout, DefaultHookTimeout, false},
		{"StopTimeout", &c.StopTimeout, DefaultStopTimeout, false},
		{"StartupTimeout", &c.StartupTimeout, DefaultStartupTimeout, false},
		{"CheckTimeout", &c.CheckTimeout, DefaultCheckTimeout, false},
		{"ReadHeaderTimeout", &c.ReadHeaderTimeout, DefaultReadHeaderTimeout, true},
		{"ReadTimeout", &c.ReadTimeout, DefaultReadTimeout, true},
		{"IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout, true},
	}
}

func TestConfigDurations(t *testing.T) {
	t.Parallel()

	t.Run("ZeroIsTheDefault", func(t *testing.T) {
		t.Parallel()
		c, err := (&Config{}).withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range durationFields(&c) {
			if *f.v != f.def {
				t.Errorf("Config.%s zero became %v, want the default %v", f.name, *f.v, f.def)
			}
		}
	})

	t.Run("NoneWhereTheDocOffersIt", func(t *testing.T) {
		t.Parallel()
		for _, f := range durationFields(&Config{}) {
			if !f.takeNone {
				continue
			}
			var cfg Config
			for _, g := range durationFields(&cfg) {
				if g.name == f.name {
					*g.v = None
				}
			}
			c, err := cfg.withDefaults()
			if err != nil {
				t.Fatalf("Config.%s = None: %v", f.name, err)
			}
			for _, g := range durationFields(&c) {
				if g.name == f.name && *g.v != 0 {
					t.Errorf("Config.%s = None resolved to %v, want none (0)", f.name, *g.v)
				}
			}
		}
	})

	t.Run("NoneElsewhereIsRefused", func(t *testing.T) {
		t.Parallel()
		for _, f := range durationFields(&Config{}) {
			if f.takeNone {
				continue
			}
			var cfg Config
			for _, g := range durationFields(&cfg) {
				if g.name == f.name {
					*g.v = None
				}
			}
			_, err := cfg.withDefaults()
			want := "field Config." + f.name + " is graceful.None, which it does not take; set a positive duration, or zero for the default " + f.def.String()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
				t.Errorf("Config.%s = None: got %v, want ErrInvalidConfig saying %q", f.name, err, want)
			}
		}
	})

	t.Run("OtherNegativesAreRefused", func(t *testing.T) {
		t.Parallel()
		var cfg Config
		for _, f := range durationFields(&cfg) {
			*f.v = -time.Second
		}
		_, err := cfg.withDefaults()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("got %v, want ErrInvalidConfig", err)
		}
		for _, f := range durationFields(&cfg) {
			want := "field Config." + f.name + " is -1s; set a positive duration, "
			if f.takeNone {
				want += "graceful.None for no "
			} else {
				want += "or zero for the default " + f.def.String()
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
	})

	t.Run("NegativeHookTimeoutStopsTheService", func(t *testing.T) {
		t.Parallel()
		closed := make(chan struct{})
		err := RunContext(context.Background(), func(_ context.Context, app *App) error {
			app.OnStopTimeout("close queue", -time.Second, func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("hook ran without a deadline")
				}
				close(closed)
				return nil
			})
			return nil
		}, &Config{ProbeAddr: "-", ShutdownDelay: None, Logger: slog.New(&logSink{})})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `OnStopTimeout("close queue") got a timeout of -1s; pass a positive timeout, or 0 for Config.HookTimeout`) {
			t.Fatalf("got %v, want ErrInvalidConfig naming the hook", err)
		}
		select {
		case <-closed:
		default:
			t.Fatal("the hook registered with a bad timeout did not run on the stop")
		}
	})
}
