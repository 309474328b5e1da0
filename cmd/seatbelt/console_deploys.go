package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/pflag"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/chaos"
	"github.com/seatbelt-go/seatbelt/console"
)

// consoleChaos names the chaos runner whose schedule and outcomes the
// console's deploys page shows: the values "seatbelt chaos" runs with.
type consoleChaos struct {
	config string // the runner's --config
	seed   string // the runner's --seed
	state  string // the runner's --state
	name   string // the runner's --name
}

func (o *consoleChaos) register(f *pflag.FlagSet) {
	f.StringVar(&o.config, "chaos-config", "", "the chaos runner's --config (its schedule file), for the deploys page")
	f.StringVar(&o.seed, "chaos-seed", "", "the chaos runner's --seed: the page shows its moments only with the same seed")
	f.StringVar(&o.state, "chaos-state", "seatbelt-chaos.json", "the chaos runner's --state: its JSON file or postgres:// URL")
	f.StringVar(&o.name, "chaos-name", "default", "the chaos runner's --name (its row when --chaos-state is PostgreSQL)")
}

// consoleDeploys is console.Deploys over a chaos runner's schedule and
// store.
type consoleDeploys struct {
	sched *chaos.Schedule
	store chaos.Store
	// outcomes returns the store's last n outcomes, oldest first.
	outcomes func(ctx context.Context, n int) ([]chaos.Outcome, error)
	source   string
	close    func()
}

var _ console.Deploys = (*consoleDeploys)(nil)

// newConsoleDeploys loads the runner's schedule as "seatbelt chaos" does and
// opens its store. Close it when the console stops.
func newConsoleDeploys(ctx context.Context, o consoleChaos) (*consoleDeploys, error) {
	if o.seed == "" {
		return nil, fmt.Errorf("--chaos-config needs --chaos-seed, the --seed the chaos runner was started with " +
			"(it logs it when it starts): the moments are drawn from the seed, so without it the console cannot know them")
	}
	var sf scheduleFlags
	fs := pflag.NewFlagSet("chaos", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sf.register(fs)
	if err := fs.Parse([]string{"--config", o.config, "--seed", o.seed}); err != nil {
		return nil, fmt.Errorf("--chaos-seed %q: want the runner's --seed, a whole number", o.seed)
	}
	sched, err := sf.schedule()
	if err != nil {
		return nil, fmt.Errorf("--chaos-config: %w", err)
	}
	store, closeStore, err := openChaosStore(ctx, o.state, o.name)
	if err != nil {
		return nil, fmt.Errorf("--chaos-state: %w", err)
	}
	d := &consoleDeploys{sched: sched, store: store, close: closeStore,
		source: fmt.Sprintf("%s with seed %d, outcomes in %s", filepath.Base(o.config), sched.Seed(), redact(o.state))}
	switch s := store.(type) {
	case *chaos.FileStore:
		d.outcomes = func(context.Context, int) ([]chaos.Outcome, error) { return s.Outcomes() }
	case *chaos.PGStore:
		d.outcomes = s.Outcomes
	default:
		closeStore()
		return nil, fmt.Errorf("--chaos-state: a %T cannot list its outcomes", store)
	}
	return d, nil
}

// Close releases the store's connections.
func (d *consoleDeploys) Close() { d.close() }

// Planned returns the moments the runner will act on in [from, to): those
// of Schedule.Next from the stored state, each assumed to run, as the
// runner goes. Schedule.Plan starts from an empty state, so it would show a
// moment the stored last action or today's count rules out.
func (d *consoleDeploys) Planned(ctx context.Context, from, to time.Time) ([]time.Time, error) {
	st, err := d.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for t := from.Add(-time.Nanosecond); ; {
		next, err := d.sched.Next(t, st)
		if errors.Is(err, chaos.ErrNoMoment) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !next.Before(to) {
			return out, nil
		}
		out = append(out, next)
		st, t = d.sched.Record(st, next), next
	}
}

// Past returns the runner's most recent outcomes, newest first.
func (d *consoleDeploys) Past(ctx context.Context, limit int) ([]console.DeployOutcome, error) {
	got, err := d.outcomes(ctx, limit)
	if err != nil {
		return nil, err
	}
	got = got[max(0, len(got)-limit):]
	out := make([]console.DeployOutcome, 0, len(got))
	for _, o := range slices.Backward(got) {
		out = append(out, console.DeployOutcome{Time: o.Time, Action: o.Action, Result: string(o.Result), Reason: o.Reason,
			ExitCode: o.ExitCode, Duration: o.Duration, Output: o.Output})
	}
	return out, nil
}

// Rules returns the schedule's zone, windows and limits.
func (d *consoleDeploys) Rules() console.DeployRules {
	cfg := d.sched.Config()
	total := 0.0
	for _, w := range cfg.Windows {
		total += windowWeight(w)
	}
	r := console.DeployRules{Location: d.sched.Location(), MeanInterval: time.Duration(cfg.MeanInterval),
		MinInterval: d.sched.MinInterval(), MaxPerDay: cfg.MaxPerDay, Source: d.source}
	for _, w := range cfg.Windows {
		r.Windows = append(r.Windows, console.DeployWindow{Start: clockOffset(w.Start), End: clockOffset(w.End), Share: windowWeight(w) / total})
	}
	return r
}

// windowWeight is a window's weight; zero means 1 (chaos.Window.Weight).
func windowWeight(w chaos.Window) float64 {
	if w.Weight == 0 {
		return 1
	}
	return w.Weight
}

// clockOffset reads a validated window bound, "HH:MM" or "24:00".
func clockOffset(s string) time.Duration {
	var h, m int
	_, _ = fmt.Sscanf(s, "%d:%d", &h, &m)
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
}
