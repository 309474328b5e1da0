package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/jobs"
)

type benchPeriodicOptions struct {
	databaseURL string
	duration    time.Duration
	replicas    int
	restart     time.Duration
	every       time.Duration
	json        bool
}

func newBenchPeriodicCmd() *cobra.Command {
	var o benchPeriodicOptions
	cmd := &cobra.Command{
		Use:   "periodic",
		Short: "Periodic slots across replicas restarted during the run: each slot exactly once",
		Long: `On a scratch database, --replicas job clients each add the same periodic
job (a slot every --every) and run it, for --duration. Each replica is
restarted every --restart (a hard stop, then a new client), the restarts
spread evenly so that the replicas are not all down at once, as in a
rolling deploy. At the end every slot from the first to the last is
counted: the goal is every slot exactly once (no slot doubled, none
missed).

The server is --database-url (default $DATABASE_URL), else the one the tests
use. With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.duration <= 0 || o.replicas < 1 || o.restart <= 0 || o.every < time.Second {
				return usageError{errors.New("--duration and --restart must be positive, --replicas at least 1, --every at least 1s")}
			}
			return runBenchPeriodic(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the replicas run")
	f.IntVar(&o.replicas, "replicas", 2, "job clients running the schedule")
	f.DurationVar(&o.restart, "restart", time.Minute, "how often each replica is restarted")
	f.DurationVar(&o.every, "every", time.Second, "the schedule: a slot every this long")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

type benchPeriodicResult struct {
	Machine  string  `json:"machine"`
	Seconds  float64 `json:"seconds"`
	Replicas int     `json:"replicas"`
	Restarts int     `json:"restarts"`
	Slots    int     `json:"slots"`   // from the first slot fired to the last
	Fired    int     `json:"fired"`   // jobs enqueued for those slots
	Doubled  int     `json:"doubled"` // slots with more than one job
	Missed   int     `json:"missed"`  // slots with none
}

func runBenchPeriodic(ctx context.Context, out, errOut io.Writer, o benchPeriodicOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	var res benchPeriodicResult
	_, err = withScratch(ctx, server, func(db *pgxpool.Pool, _ string) (time.Duration, error) {
		kind := noopKind("tick", 1, nil)
		p := jobs.PeriodicJob{Kind: "tick", Schedule: jobs.Every(o.every)}
		start := func(i, gen int) (*jobs.Client, error) {
			c, err := jobs.NewClient(db, &jobs.Config{WorkerID: fmt.Sprintf("replica-%d-%d", i, gen), Logger: quiet, MaxWorkers: 10})
			if err == nil {
				err = c.Register(kind)
			}
			if err == nil {
				err = c.AddPeriodic(p)
			}
			if err == nil {
				err = c.Start(ctx)
			}
			return c, err
		}
		clients := make([]*jobs.Client, o.replicas)
		for i := range clients {
			if clients[i], err = start(i, 0); err != nil {
				return 0, err
			}
		}
		defer func() {
			for _, c := range clients {
				_ = c.StopAndCancel(context.Background())
			}
		}()
		begun := time.Now()
		progress("%d replicas run a slot every %v for %v, each restarted every %v...", o.replicas, o.every, o.duration, o.restart)
		// Replica i restarts at i/replicas of each period.
		step := o.restart / time.Duration(o.replicas)
		for tick := 1; ; tick++ {
			at := begun.Add(time.Duration(tick) * step)
			if at.After(begun.Add(o.duration)) {
				break
			}
			if err := sleepCtx(ctx, time.Until(at)); err != nil {
				return 0, err
			}
			i := tick % o.replicas
			stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = clients[i].StopAndCancel(stopCtx)
			cancel()
			if clients[i], err = start(i, tick); err != nil {
				return 0, err
			}
			res.Restarts++
			progress("  %v: replica %d restarted", time.Since(begun).Round(time.Second), i)
		}
		if err := sleepCtx(ctx, time.Until(begun.Add(o.duration))); err != nil {
			return 0, err
		}
		res.Seconds = time.Since(begun).Seconds()
		var first, last time.Time
		var doubled int
		err := db.QueryRow(ctx, `WITH s AS (SELECT substr(unique_key, length('periodic:tick:') + 1)::timestamptz AS slot, count(*) AS n
	FROM seatbelt_jobs WHERE unique_key LIKE 'periodic:tick:%' GROUP BY 1)
SELECT min(slot), max(slot), count(*) FILTER (WHERE n > 1), sum(n)::int, count(*)::int FROM s`).Scan(&first, &last, &doubled, &res.Fired, &res.Slots)
		if err != nil {
			return 0, fmt.Errorf("counting the slots: %w", err)
		}
		expected := int(last.Sub(first)/o.every) + 1
		res.Doubled, res.Missed, res.Slots = doubled, expected-res.Slots, expected
		return 0, nil
	})
	if err != nil {
		return err
	}
	res.Machine, res.Replicas = machine(), o.replicas
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bench periodic: %s, %d replicas, a slot every %v, %.0f s, %d restarts\n", res.Machine, res.Replicas, o.every, res.Seconds, res.Restarts)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "slots from the first to the last\t%d\t\t\n", res.Slots)
	fmt.Fprintf(tw, "jobs enqueued for them\t%d\t\t\n", res.Fired)
	fmt.Fprintf(tw, "slots doubled\t%d\t0\t%s\n", res.Doubled, met(res.Doubled == 0))
	fmt.Fprintf(tw, "slots missed\t%d\t0\t%s\n", res.Missed, met(res.Missed == 0))
	if err := endTable(tw, out, res, o.json); err != nil {
		return err
	}
	if res.Doubled > 0 || res.Missed > 0 {
		return errors.New(strings.TrimSpace(fmt.Sprintf("%d slots doubled, %d missed", res.Doubled, res.Missed)))
	}
	return nil
}
