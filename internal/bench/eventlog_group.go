package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

type benchGroupOptions struct {
	databaseURL string
	records     int
	streams     int
	partitions  int
	members     int
	processes   int
	batch       int
	json        bool
	// childMember runs members in this process: the group's other
	// processes.
	childMember bool
	group       string
}

func newBenchEventlogGroupCmd() *cobra.Command {
	var o benchGroupOptions
	cmd := &cobra.Command{
		Use:   "eventlog-group",
		Short: "A consumer group's throughput, members in several processes, beside one member",
		Long: `Fills a fresh scratch database's log with --records records over
--streams streams, then has it consumed from the start, each time by a new
consumer name, with a handler that does one small write per record (an
INSERT of the record's position into a table, in the batch's transaction):

  consumer   one Consumer (Store.NewConsumer), today's single reader
  one        a group of --partitions partitions with one member
  group      the same group size with --members members spread over
             --processes processes (this one starts them)

Each figure counts from the moment every partition has its holder to the
moment the last record is handled. Goal: group >= 3 x one.

The server is --database-url (default $DATABASE_URL), else the one the tests
use. The scratch database is dropped at the end. With --json the last line is
one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.childMember {
				return runGroupMembers(cmd.Context(), cmd.OutOrStdout(), o)
			}
			switch {
			case o.records < 1 || o.streams < 1 || o.batch < 1:
				return usageError{errors.New("--records, --streams and --batch must be positive")}
			case o.partitions < 1 || o.partitions > eventlog.MaxPartitions:
				return usageError{fmt.Errorf("--partitions must be 1 to %d", eventlog.MaxPartitions)}
			case o.members < 1 || o.processes < 1 || o.members%o.processes != 0:
				return usageError{errors.New("--members and --processes must be positive, --members a multiple of --processes")}
			}
			return runBenchGroup(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	databaseURLFlag(cmd, &o.databaseURL)
	f.IntVar(&o.records, "records", 100000, "records in the log")
	f.IntVar(&o.streams, "streams", 1000, "streams the records are spread over")
	f.IntVar(&o.partitions, "partitions", 8, "the group's partitions")
	f.IntVar(&o.members, "members", 4, "the group's members")
	f.IntVar(&o.processes, "processes", 2, "processes the members run in")
	f.IntVar(&o.batch, "batch", 500, "ConsumerConfig.BatchSize")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	f.BoolVar(&o.childMember, "child-member", false, "run --members members of group --group on --database-url until stopped (the group's other processes)")
	f.StringVar(&o.group, "group", "", "the group a --child-member process runs")
	f.MarkHidden("child-member")
	f.MarkHidden("group")
	return cmd
}

type benchGroupResult struct {
	Machine          string  `json:"machine"`
	Records          int     `json:"records"`
	Streams          int     `json:"streams"`
	Partitions       int     `json:"partitions"`
	Members          int     `json:"members"`
	Processes        int     `json:"processes"`
	Batch            int     `json:"batch"`
	ConsumerPerSec   float64 `json:"consumer_per_sec"`
	OneMemberPerSec  float64 `json:"one_member_per_sec"`
	GroupPerSec      float64 `json:"group_per_sec"`
	GroupVsOne       float64 `json:"group_vs_one"`
	GroupVsConsumer  float64 `json:"group_vs_consumer"`
	OneVsConsumer    float64 `json:"one_vs_consumer"`
	LoadAverageStart string  `json:"load_average_start"`
	LoadAverageEnd   string  `json:"load_average_end"`
}

// benchEffect is the handler's one small write per record.
func benchEffect(phase string) eventlog.Handler {
	return func(ctx context.Context, tx pgx.Tx, r *eventlog.Record) error {
		_, err := tx.Exec(ctx, `INSERT INTO bench_effects (phase, position) VALUES ($1, $2)`, phase, r.Position)
		return err
	}
}

func runBenchGroup(ctx context.Context, out, errOut io.Writer, o benchGroupOptions) error {
	server, closeServer, err := findServer(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer closeServer()
	progress := progressTo(errOut, o.json)
	db, drop, err := eventlogScratch(ctx, server, 16)
	if err != nil {
		return err
	}
	defer drop()
	store, err := eventlog.New(db, &eventlog.Config{Writer: "bench", Logger: quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE bench_effects (phase text, position bigint, PRIMARY KEY (phase, position))`); err != nil {
		return err
	}
	res := benchGroupResult{Machine: machine(), Records: o.records, Streams: o.streams, Partitions: o.partitions,
		Members: o.members, Processes: o.processes, Batch: o.batch, LoadAverageStart: loadAverage()}

	progress("filling the log: %d records over %d streams...", o.records, o.streams)
	const perCall = 100
	if err := fillLog(ctx, store, o.records, o.streams, perCall); err != nil {
		return fmt.Errorf("filling the log: %w", err)
	}
	cfg := func() *eventlog.ConsumerConfig {
		return &eventlog.ConsumerConfig{BatchSize: o.batch, TakeoverPoll: 100 * time.Millisecond, Logger: quiet}
	}

	progress("consumer: one Consumer reading %d records...", o.records)
	c, err := store.NewConsumer("consumer", benchEffect("consumer"), cfg())
	if err != nil {
		return err
	}
	took, err := timeConsume(ctx, db, "consumer", int64(o.records), func(ctx context.Context) error { return c.Run(ctx) }, nil)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	res.ConsumerPerSec = float64(o.records) / took.Seconds()

	progress("one: a group of %d partitions, one member, reading %d records...", o.partitions, o.records)
	g, err := store.NewGroup("one", o.partitions, benchEffect("one"), cfg())
	if err != nil {
		return err
	}
	took, err = timeConsume(ctx, db, "one", int64(o.records), func(ctx context.Context) error { return g.Run(ctx) }, nil)
	if err != nil {
		return fmt.Errorf("one member: %w", err)
	}
	res.OneMemberPerSec = float64(o.records) / took.Seconds()

	progress("group: %d partitions, %d members in %d processes, reading %d records...", o.partitions, o.members, o.processes, o.records)
	dbURL := db.Config().ConnString()
	took, err = timeConsume(ctx, db, "group", int64(o.records), func(ctx context.Context) error {
		return runMemberProcesses(ctx, dbURL, o)
	}, func(ctx context.Context) (bool, error) {
		// Every member holds its share: the group has settled.
		var members, held int
		err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(held), 0) FROM eventlog_group_members WHERE name = 'group' AND expires_at > now()`).Scan(&members, &held)
		return members == o.members && held == o.partitions, err
	})
	if err != nil {
		return fmt.Errorf("group: %w", err)
	}
	res.GroupPerSec = float64(o.records) / took.Seconds()
	res.GroupVsOne = res.GroupPerSec / res.OneMemberPerSec
	res.GroupVsConsumer = res.GroupPerSec / res.ConsumerPerSec
	res.OneVsConsumer = res.OneMemberPerSec / res.ConsumerPerSec
	var effects int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM bench_effects`).Scan(&effects); err != nil {
		return err
	}
	if effects != 3*int64(o.records) {
		return fmt.Errorf("%d effects, want %d: a record was lost or doubled", effects, 3*o.records)
	}
	res.LoadAverageEnd = loadAverage()
	return writeBenchGroup(out, res, o.json)
}

// fillLog appends records records over streams streams, perCall a call,
// from 8 writers.
func fillLog(ctx context.Context, store *eventlog.Store, records, streams, perCall int) error {
	calls := (records + perCall - 1) / perCall
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 8 {
		wg.Go(func() {
			for call := range next {
				n := min(perCall, records-call*perCall)
				recs := make([]eventlog.NewRecord, n)
				for k := range recs {
					recs[k].Data = json.RawMessage(fmt.Sprintf(`{"n":%d}`, call*perCall+k))
				}
				st := eventlog.Stream{Type: "order", ID: fmt.Sprint(call % streams)}
				if _, err := store.Append(ctx, st, recs, nil); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for call := range calls {
		next <- call
	}
	close(next)
	wg.Wait()
	return first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// timeConsume runs run until name's checkpoints count want handled
// records and returns the time from when settled says the readers are in
// place (nil: from the first record handled) to then.
func timeConsume(ctx context.Context, db *pgxpool.Pool, name string, want int64, run func(ctx context.Context) error, settled func(ctx context.Context) (bool, error)) (time.Duration, error) {
	rctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- run(rctx) }()
	defer func() { stop(); <-stopped }()
	handledSQL := `SELECT coalesce((SELECT handled FROM eventlog_consumers WHERE name = $1), 0) + coalesce((SELECT sum(handled) FROM eventlog_group_partitions WHERE name = $1), 0)`
	var start time.Time
	var from int64
	deadline := time.Now().Add(30 * time.Minute)
	for {
		var handled int64
		if err := db.QueryRow(ctx, handledSQL, name).Scan(&handled); err != nil {
			return 0, err
		}
		if start.IsZero() {
			ok := handled > 0
			if settled != nil {
				var err error
				if ok, err = settled(ctx); err != nil {
					return 0, err
				}
			}
			if ok {
				start, from = time.Now(), handled
			}
		}
		if handled >= want {
			if from >= want {
				return 0, fmt.Errorf("the readers handled all %d records before they were in place: use more --records", want)
			}
			// Scale to the whole log at the measured rate.
			return time.Duration(float64(time.Since(start)) * float64(want) / float64(want-from)), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("handled %d of %d records in 30m", handled, want)
		}
		select {
		case err := <-stopped:
			return 0, fmt.Errorf("stopped: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// runMemberProcesses starts the group's member processes and waits until
// ctx is done, then stops them.
func runMemberProcesses(ctx context.Context, dbURL string, o benchGroupOptions) error {
	var cmds []*exec.Cmd
	errs := make(chan error, o.processes)
	for range o.processes {
		cmd, err := workerCommand(ctx, "eventlog-group", "--child-member", "--database-url", dbURL, "--group", "group",
			"--members", fmt.Sprint(o.members/o.processes), "--partitions", fmt.Sprint(o.partitions), "--batch", fmt.Sprint(o.batch))
		if err != nil {
			return err
		}
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 10 * time.Second
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds = append(cmds, cmd)
		go func() {
			io.Copy(io.Discard, bufio.NewReader(stdout))
			err := cmd.Wait()
			if ctx.Err() != nil {
				err = nil
			}
			if err != nil {
				err = fmt.Errorf("member process: %v: %s", err, stderr.String())
			}
			errs <- err
		}()
	}
	for range cmds {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// runGroupMembers is a member process: --members members of --group, until
// stopped.
func runGroupMembers(ctx context.Context, out io.Writer, o benchGroupOptions) error {
	cfg, err := poolConfig(o.databaseURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(2*o.members + 2)
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := eventlog.New(db, &eventlog.Config{Writer: "bench", Logger: quiet})
	if err != nil {
		return err
	}
	defer store.Close()
	errs := make(chan error, o.members)
	for range o.members {
		g, err := store.NewGroup(o.group, o.partitions, benchEffect(o.group), &eventlog.ConsumerConfig{
			BatchSize: o.batch, TakeoverPoll: 100 * time.Millisecond, Logger: quiet})
		if err != nil {
			return err
		}
		go func() { errs <- g.Run(ctx) }()
	}
	fmt.Fprintln(out, "running")
	var first error
	for range o.members {
		first = cmpErr(first, <-errs)
	}
	return first
}

// loadAverage is the machine's 1, 5 and 15 minute load averages, or "" where
// there is no /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func writeBenchGroup(out io.Writer, r benchGroupResult, asJSON bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bench eventlog-group: %s, %d records over %d streams, batch %d, load average %s at the start, %s at the end\n",
		r.Machine, r.Records, r.Streams, r.Batch, r.LoadAverageStart, r.LoadAverageEnd)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "one Consumer, one write per record\t%.0f records/s\t\t\n", r.ConsumerPerSec)
	fmt.Fprintf(tw, "group, %d partitions, 1 member\t%.0f records/s (%.2f x consumer)\t\t\n", r.Partitions, r.OneMemberPerSec, r.OneVsConsumer)
	fmt.Fprintf(tw, "group, %d partitions, %d members in %d processes\t%.0f records/s (%.2f x one member, %.2f x consumer)\t>= 3 x one member\t%s\n",
		r.Partitions, r.Members, r.Processes, r.GroupPerSec, r.GroupVsOne, r.GroupVsConsumer, met(r.GroupVsOne >= 3))
	return endTable(tw, out, r, asJSON)
}
