package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
)

// scheduleFlags are the schedule options shared by "chaos" and "chaos plan".
type scheduleFlags struct {
	config    string
	mean, min time.Duration
	maxPerDay int
	windows   []string
	timeZone  string
	weekdays  []string
	dates     []string
	blackouts []string
	seed      uint64
	flags     *pflag.FlagSet
}

func (f *scheduleFlags) register(fs *pflag.FlagSet) {
	f.flags = fs
	fs.StringVar(&f.config, "config", "", "schedule file (YAML or JSON, fields as in the flags: meanInterval, windows, ...); flags override it")
	fs.DurationVar(&f.mean, "mean", chaos.DefaultMeanInterval, "mean time between actions")
	fs.DurationVar(&f.min, "min-interval", chaos.DefaultMinInterval, "minimum time between actions, kept across restarts")
	fs.IntVar(&f.maxPerDay, "max-per-day", chaos.DefaultMaxPerDay, "maximum actions per day in --tz")
	fs.StringArrayVar(&f.windows, "window", nil, "time-of-day window with weight, START-END=WEIGHT, repeatable (default 22:00-06:00=0.8 and 06:00-22:00=0.2)")
	fs.StringVar(&f.timeZone, "tz", "UTC", "IANA time zone for windows and days, e.g. Europe/Berlin")
	fs.StringSliceVar(&f.weekdays, "exclude-weekday", nil, "weekdays with no action, e.g. Sat,Sun")
	fs.StringSliceVar(&f.dates, "exclude-date", nil, "dates with no action: 2026-12-24, or 12-24 for every year")
	fs.StringArrayVar(&f.blackouts, "blackout", nil, `period with no action, "START/END" in local time, e.g. "2026-12-20/2027-01-04 06:00"; repeatable`)
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the schedule; the same seed gives the same moments (default: random, printed)")
}

// schedule builds the schedule from the file, then the flags that were set.
func (f *scheduleFlags) schedule() (*chaos.Schedule, error) {
	var cfg chaos.Config
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return nil, err
		}
		if cfg, err = chaos.DecodeConfig(data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.config, err)
		}
	}
	set := f.flags.Changed // a flag left alone keeps the file's value or the default
	if set("mean") {
		cfg.MeanInterval = chaos.Duration(f.mean)
	}
	if set("min-interval") {
		cfg.MinInterval = chaos.Duration(f.min)
	}
	if set("max-per-day") {
		cfg.MaxPerDay = f.maxPerDay
	}
	if set("tz") {
		cfg.TimeZone = f.timeZone
	}
	if f.flags.Changed("window") {
		cfg.Windows = nil
		for _, w := range f.windows {
			win, err := chaos.ParseWindow(w)
			if err != nil {
				return nil, err
			}
			cfg.Windows = append(cfg.Windows, win)
		}
	}
	if f.flags.Changed("exclude-weekday") {
		cfg.ExcludeWeekdays = f.weekdays
	}
	if f.flags.Changed("exclude-date") {
		cfg.ExcludeDates = f.dates
	}
	if f.flags.Changed("blackout") {
		cfg.Blackouts = nil
		for _, b := range f.blackouts {
			bo, err := chaos.ParseBlackout(b)
			if err != nil {
				return nil, err
			}
			cfg.Blackouts = append(cfg.Blackouts, bo)
		}
	}
	seed := f.seed
	if !f.flags.Changed("seed") {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	return chaos.NewSchedule(cfg, seed)
}

func newChaosCmd() *cobra.Command {
	var (
		sf      scheduleFlags
		rc      chaos.RunnerConfig
		state   string
		name    string
		metrics string
	)
	cmd := &cobra.Command{
		Use:   "chaos --action COMMAND [--execute]",
		Short: "Run a deploy action at random moments, mostly at night (dry run unless --execute)",
		Long: `chaos runs an action (a rollout restart, an Argo CD sync, ...) at random
moments drawn from a schedule, so that every deploy has to be painless.
It is a dry run unless --execute is given: it logs what it would do.

Before each action --health-url must answer 200 and --skip-if must fail;
after it --verify-command / --verify-url must pass within --verify-timeout.
State (last action, count today) is kept in --state, a JSON file or a
postgres:// URL, so the minimum interval holds across restarts.

Preview the moments with "seatbelt chaos plan --seed S"; a runner started
with the same --seed and schedule acts on exactly those moments.`,
		Example: `  seatbelt chaos plan --tz Europe/Berlin --seed 7 --days 14
  seatbelt chaos --tz Europe/Berlin --seed 7 --exclude-weekday Sat,Sun \
    --action 'kubectl rollout restart deployment/orders -n prod' \
    --skip-if '! kubectl rollout status deployment/orders -n prod --timeout=1s' \
    --verify-command 'kubectl rollout status deployment/orders -n prod --timeout=10m' \
    --state postgres://chaos@db/chaos --metrics-addr :9090 --execute`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sched, err := sf.schedule()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))

			store, closeStore, err := openChaosStore(ctx, state, name)
			if err != nil {
				return err
			}
			defer closeStore()

			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			m, err := chaos.NewMetrics(reg)
			if err != nil {
				return err
			}
			rc.Schedule, rc.Store, rc.Metrics, rc.Logger = sched, store, m, log
			runner, err := chaos.NewRunner(ctx, rc)
			if err != nil {
				return err
			}
			if metrics != "" {
				stopMetrics, err := serveMetrics(metrics, reg, log)
				if err != nil {
					return err
				}
				defer stopMetrics()
			}
			return runner.Run(ctx)
		},
	}
	fs := cmd.PersistentFlags()
	sf.register(fs)
	f := cmd.Flags()
	f.StringVar(&rc.Action, "action", "", `command to run with "sh -c" (required)`)
	f.BoolVar(&rc.Execute, "execute", false, "act; without it chaos only logs what it would do")
	f.StringVar(&rc.HealthURL, "health-url", "", "URL that must answer 200 before each action")
	f.StringVar(&rc.SkipIf, "skip-if", "", "command that, if it exits 0, skips the action (e.g. a rollout is in progress)")
	f.StringVar(&rc.VerifyCommand, "verify-command", "", "command that must exit 0 after the action")
	f.StringVar(&rc.VerifyURL, "verify-url", "", "URL polled after the action until it answers 200")
	f.DurationVar(&rc.VerifyTimeout, "verify-timeout", 5*time.Minute, "time allowed for the verification")
	f.DurationVar(&rc.ActionTimeout, "action-timeout", 10*time.Minute, "time allowed for the action")
	f.StringVar(&rc.WebhookURL, "webhook-url", "", `URL that receives each outcome as JSON with a Slack-compatible "text"`)
	f.StringVar(&state, "state", "seatbelt-chaos.json", "where the state is kept: a JSON file, or a postgres:// URL")
	f.StringVar(&name, "name", "default", "runner name, the state row's key when --state is PostgreSQL")
	f.StringVar(&metrics, "metrics-addr", "", "address serving /metrics, e.g. :9090 (default: none)")
	_ = cmd.MarkFlagRequired("action")
	cmd.AddCommand(newChaosPlanCmd(&sf))
	return cmd
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func openChaosStore(ctx context.Context, state, name string) (chaos.Store, func(), error) {
	if !strings.HasPrefix(state, "postgres://") && !strings.HasPrefix(state, "postgresql://") {
		return &chaos.FileStore{Path: state}, func() {}, nil
	}
	pool, err := openPool(ctx, "--state", state)
	if err != nil {
		return nil, nil, fmt.Errorf("chaos: %w", err)
	}
	store, err := chaos.NewPGStore(ctx, pool, name)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return store, pool.Close, nil
}

// serveMetrics serves /metrics on addr until the returned stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("chaos: --metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("chaos: metrics server", "err", err)
		}
	}()
	log.Info("chaos: serving metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
