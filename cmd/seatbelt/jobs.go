package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// newJobsCmd is the operator's view of the jobs tables: list, show, cancel,
// clean up what a failed job created, and restart it; see the queues, and
// pause and resume one.
func newJobsCmd() *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, inspect, cancel, clean up and restart durable jobs; pause and resume queues",
		Long: `Operate on the jobs of the jobs package in one database.

The usual repair of a failed job: look at it, delete everything it created,
run it again.

  seatbelt jobs show 42
  seatbelt jobs cleanup 42 --delete orders=id --delete order_lines=id --dry-run
  seatbelt jobs cleanup 42 --delete orders=id --delete order_lines=id
  seatbelt jobs restart 42 --from-first

Every job waits in a queue ("default" unless it was enqueued with another).
A paused queue is claimed from by no worker, on every replica, until it is
resumed: hold the imports while the partner they call is down, or during a
risky deploy. Running stages finish, and jobs can still be enqueued.

  seatbelt jobs queues
  seatbelt jobs pause imports --by "alice: partner API down"
  seatbelt jobs list --queue imports --state available
  seatbelt jobs resume imports

Exit codes: 0 done, 1 refused (wrong state, unknown job, a table with no
deleter), 2 usage or connection errors.`,
	}
	cmd.PersistentFlags().StringVar(&dbURL, "database-url", os.Getenv("DATABASE_URL"), "the database (default $DATABASE_URL)")
	open := func(ctx context.Context) (*pgxpool.Pool, error) { return openPool(ctx, "--database-url", dbURL) }
	cmd.AddCommand(newJobsListCmd(open), newJobsShowCmd(open), newJobsCancelCmd(open), newJobsCleanupCmd(open), newJobsRestartCmd(open),
		newJobsQueuesCmd(open), newJobsPeriodicCmd(open), newJobsPauseCmd(open), newJobsResumeCmd(open))
	return cmd
}

type openDB func(ctx context.Context) (*pgxpool.Pool, error)

// onJob is the RunE of a subcommand that acts on the job named by its one
// argument: it parses the id, opens the database and closes it afterwards.
func onJob(open openDB, run func(cmd *cobra.Command, db *pgxpool.Pool, id int64) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := jobID(args[0])
		if err != nil {
			return err
		}
		db, err := open(cmd.Context())
		if err != nil {
			return err
		}
		defer db.Close()
		return run(cmd, db, id)
	}
}

// jobsRefused turns the library's "not allowed" errors into exit code 1.
func jobsRefused(err error) error {
	var se *jobs.StateError
	var ue *jobs.UnregisteredTableError
	var de *jobs.DuplicateError
	var te *jobs.TableError
	if errors.As(err, &se) || errors.As(err, &ue) || errors.As(err, &de) || errors.As(err, &te) || errors.Is(err, jobs.ErrNotFound) || errors.Is(err, jobs.ErrNotCleaned) {
		return problems(err)
	}
	return err
}

func jobID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("job id %q is not a positive number", arg)
	}
	return id, nil
}

func newJobsListCmd(open openDB) *cobra.Command {
	var o jobs.ListOpts
	var states []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Queue != "" { // empty: every queue
				if err := jobs.CheckQueueName(o.Queue); err != nil {
					return fmt.Errorf("--queue: %w", err)
				}
			}
			for _, s := range states {
				st, err := jobs.ParseState(s)
				if err != nil {
					return fmt.Errorf("--state: %w", err)
				}
				o.States = append(o.States, st)
			}
			db, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := jobs.List(cmd.Context(), db, &o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, list)
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tQUEUE\tSTATE\tSTAGE\tATTEMPT\tUPDATED\tERROR")
			for _, j := range list {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Kind, j.Queue, j.State, j.Stage, j.Attempt,
					j.UpdatedAt.UTC().Format(time.RFC3339), oneLine(j.LastError, 60))
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&states, "state", nil, "only jobs in these states (repeatable or comma-separated)")
	f.StringVar(&o.Kind, "kind", "", "only jobs of this kind")
	f.StringVar(&o.Queue, "queue", "", "only jobs of this queue")
	f.IntVar(&o.Limit, "limit", 100, "at most this many jobs")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func newJobsShowCmd(open openDB) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a job, its history and the entities it recorded",
		Args:  cobra.ExactArgs(1),
		RunE: onJob(open, func(cmd *cobra.Command, db *pgxpool.Pool, id int64) error {
			ctx := cmd.Context()
			j, err := jobs.Get(ctx, db, id)
			if err != nil {
				return jobsRefused(err)
			}
			hist, err := jobs.History(ctx, db, id)
			if err != nil {
				return err
			}
			ents, err := jobs.Entities(ctx, db, id)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"job": j, "history": hist, "entities": ents})
			}
			writeJob(out, j, hist, ents)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func writeJob(out io.Writer, j *jobs.Job, hist []jobs.Event, ents []jobs.Entity) {
	fmt.Fprintf(out, "job %d  kind %s  queue %s  state %s  stage %s  attempt %d\n", j.ID, j.Kind, j.Queue, j.State, j.Stage, j.Attempt)
	fmt.Fprintf(out, "args %s\n", j.Args)
	if j.UniqueKey != "" {
		fmt.Fprintf(out, "unique key %s\n", j.UniqueKey)
	}
	if j.LastError != "" {
		fmt.Fprintf(out, "last error: %s\n", j.LastError)
	}
	if j.Worker != "" && j.LeaseUntil != nil {
		fmt.Fprintf(out, "held by %s until %s\n", j.Worker, j.LeaseUntil.UTC().Format(time.RFC3339Nano))
	}
	stages := make([]string, 0, len(j.Results))
	for s := range j.Results {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for _, s := range stages {
		fmt.Fprintf(out, "result %s: %s\n", s, j.Results[s])
	}
	fmt.Fprintln(out, "\nhistory:")
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, e := range hist {
		detail := ""
		if len(e.Detail) > 0 {
			detail = oneLine(string(e.Detail), 100)
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%d\t%s\t%s\n", e.At.UTC().Format("2006-01-02T15:04:05.000Z"), e.Event, e.Stage, e.Attempt, e.Worker, detail)
	}
	w.Flush()
	live, deleted := map[string]int{}, map[string]int{}
	for _, e := range ents {
		if e.DeletedAt == nil {
			live[e.Table] += len(e.Keys)
		} else {
			deleted[e.Table] += len(e.Keys)
		}
	}
	fmt.Fprintln(out, "\nentities:")
	if len(ents) == 0 {
		fmt.Fprintln(out, "  none recorded")
	}
	tables := make([]string, 0, len(live)+len(deleted))
	for t := range live {
		tables = append(tables, t)
	}
	for t := range deleted {
		if _, ok := live[t]; !ok {
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(out, "  %s: %d recorded, %d cleaned up\n", t, live[t], deleted[t])
	}
	if cleanupUnfinished(hist) {
		fmt.Fprintf(out, "\ncleanup unfinished: part of what the job created is deleted; run seatbelt jobs cleanup %d again to finish it before restarting\n", j.ID)
	}
}

// cleanupUnfinished reports whether the job's last cleanup began and did
// not end (interrupted, or running now).
func cleanupUnfinished(hist []jobs.Event) bool {
	for i := len(hist) - 1; i >= 0; i-- {
		switch hist[i].Event {
		case jobs.EventCleanupStarted:
			return true
		case jobs.EventCleaned, jobs.EventRestarted:
			return false
		}
	}
	return false
}

func newJobsCancelCmd(open openDB) *cobra.Command {
	var actor string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job; a running stage is interrupted within a second",
		Args:  cobra.ExactArgs(1),
		RunE: onJob(open, func(cmd *cobra.Command, db *pgxpool.Pool, id int64) error {
			who, err := actorFlag(cmd, actor)
			if err != nil {
				return err
			}
			state, err := jobs.Cancel(cmd.Context(), db, id, &jobs.CancelOpts{Actor: who})
			if err != nil {
				return jobsRefused(err)
			}
			if state == jobs.StateRunning {
				fmt.Fprintf(cmd.OutOrStdout(), "job %d: cancel requested; its running stage is being interrupted\n", id)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "job %d: cancelled\n", id)
			}
			return nil
		}),
	}
	addActorFlag(cmd, &actor, "cancels")
	return cmd
}

func newJobsCleanupCmd(open openDB) *cobra.Command {
	var dryRun, asJSON bool
	var deletes []string
	var actor string
	cmd := &cobra.Command{
		Use:   "cleanup ID --delete table=column...",
		Short: "Delete every entity a job recorded, newest first, then mark it cleaned",
		Long: `Delete every row the job recorded in its ledger, newest first, with
DELETE FROM table WHERE column = ANY(keys) for each --delete table=column.
The column must have a primary key or a unique index of its own, so that no
row another job wrote with the same value goes too. A recorded table without
--delete, or whose column is not unique, stops the cleanup before anything
is deleted.

A schema-qualified table is written as it was recorded: billing.invoices.
A name that contains a dot goes in double quotes: --delete '"audit.2024"=id'.

Safe to run again: it resumes where an interrupted run stopped (the job
cannot be restarted until it has), and on a cleaned job it does nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobID(args[0])
			if err != nil {
				return err
			}
			who, err := actorFlag(cmd, actor)
			if err != nil {
				return err
			}
			dels, err := deleteFlags(deletes)
			if err != nil {
				return err
			}
			db, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := jobs.Cleanup(cmd.Context(), db, id, &jobs.CleanupOpts{Deleters: dels, DryRun: dryRun, Actor: who})
			out := cmd.OutOrStdout()
			if res != nil {
				if asJSON {
					if jerr := writeJSON(out, map[string]any{"job": id, "dry_run": dryRun, "keys": res.Keys, "rows": res.Rows, "entries": res.Entries, "already_clean": res.AlreadyClean}); jerr != nil {
						return jerr
					}
				} else {
					writeCleanup(out, id, res, dryRun)
				}
			}
			return jobsRefused(err)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&deletes, "delete", nil, "delete recorded rows of table by column: table=column (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be deleted; change nothing")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	addActorFlag(cmd, &actor, "cleans up")
	return cmd
}

// writeCleanup reports rows as the deletes counted them, beside the keys
// the ledger held: a key whose row was already gone (or never made) deletes
// nothing, and the operator should see that rather than the key count.
func writeCleanup(out io.Writer, id int64, res *jobs.CleanupResult, dryRun bool) {
	if res.AlreadyClean {
		fmt.Fprintf(out, "job %d: already cleaned up; nothing to do\n", id)
		return
	}
	tables := make([]string, 0, len(res.Keys))
	for t := range res.Keys {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		keys := plural(res.Keys[t], "recorded key", "recorded keys")
		rows, counted := res.Rows[t]
		switch {
		case dryRun:
			fmt.Fprintf(out, "would delete the rows of %s in %s\n", keys, t)
		case !counted:
			fmt.Fprintf(out, "deleted the rows of %s in %s (its deleter did not count them)\n", keys, t)
		case rows < int64(res.Keys[t]):
			fmt.Fprintf(out, "deleted %s of %s (%s; the others had no row left: already deleted, or never created)\n", plural(int(rows), "row", "rows"), t, keys)
		default:
			fmt.Fprintf(out, "deleted %s of %s (%s)\n", plural(int(rows), "row", "rows"), t, keys)
		}
	}
	if !dryRun {
		fmt.Fprintf(out, "job %d: cleaned (%s)\n", id, plural(res.Entries, "ledger entry", "ledger entries"))
	}
}

// plural is "1 key" or "3 keys".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func newJobsRestartCmd(open openDB) *cobra.Command {
	var fromFirst bool
	var actor string
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Run a failed, cancelled or cleaned job again, keeping its history",
		Args:  cobra.ExactArgs(1),
		RunE: onJob(open, func(cmd *cobra.Command, db *pgxpool.Pool, id int64) error {
			who, err := actorFlag(cmd, actor)
			if err != nil {
				return err
			}
			if err := jobs.Restart(cmd.Context(), db, id, &jobs.RestartOpts{FromFirst: fromFirst, Actor: who}); err != nil {
				return jobsRefused(err)
			}
			from := "the failed stage"
			if fromFirst {
				from = "the first stage"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %d: restarted from %s\n", id, from)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&fromFirst, "from-first", false, "start over from the first stage (clean up first)")
	addActorFlag(cmd, &actor, "restarts")
	return cmd
}

// addActorFlag adds --actor to a command that changes a job: who does it,
// as the job's history records it ("actor" in the event's detail).
func addActorFlag(cmd *cobra.Command, actor *string, verb string) {
	cmd.Flags().StringVar(actor, "actor", "", "who "+verb+" the job, as its history records it (default $USER@hostname)")
}

// actorFlag is the --actor the command was given, or the operator's login
// and host when it was left out.
func actorFlag(cmd *cobra.Command, actor string) (string, error) {
	if !cmd.Flags().Changed("actor") {
		return defaultOperator(), nil
	}
	if strings.TrimSpace(actor) == "" {
		return "", errors.New("--actor is empty; say who acts, or leave --actor out for $USER@hostname")
	}
	return actor, nil
}

// shellArg quotes s for a command line the operator may paste.
func shellArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newJobsQueuesCmd(open openDB) *cobra.Command {
	return listCmd(open, "queues", "List the queues: paused or not, since when and by whom, and their jobs by state",
		`List every queue that has jobs or was ever paused, by name: whether it is
paused (since when and by whom) and how many of its jobs are in each state.
It counts every job, so on a large table it takes a while (--read-timeout
bounds it).`,
		"no queues: there are no jobs, and no queue was ever paused", jobs.Queues,
		func(w io.Writer, qs []jobs.QueueInfo) {
			fmt.Fprint(w, "QUEUE\tPAUSED")
			for _, s := range jobs.States {
				fmt.Fprint(w, "\t"+strings.ToUpper(string(s)))
			}
			fmt.Fprintln(w)
			now := time.Now()
			for _, q := range qs {
				fmt.Fprintf(w, "%s\t%s", q.Name, pausedSince(q, now))
				for _, s := range jobs.States {
					fmt.Fprintf(w, "\t%d", q.Counts[s])
				}
				fmt.Fprintln(w)
			}
		})
}

func newJobsPeriodicCmd(open openDB) *cobra.Command {
	return listCmd(open, "periodic", "List the periodic jobs: schedule, last slot and job, next slot",
		`List the schedules the services' clients added (jobs.Client.AddPeriodic),
by name, as stored: the schedule with its time zone and missed-slot policy,
the last slot a job was enqueued for and that job, the next slot, and when
a client running the stored schedule last said so (CHECKED, on the
database's clock: every few seconds while one runs). A schedule a new build
changed shows the new one once one of its replicas has looked (within a
second of its start); if that build is rolled back, the older replicas take
the name back once CHECKED stops moving.`,
		"no periodic jobs: no client has added one (jobs.Client.AddPeriodic)", jobs.Periodic,
		func(w io.Writer, ps []jobs.PeriodicInfo) {
			fmt.Fprintln(w, "NAME\tSCHEDULE\tLAST SLOT\tLAST JOB\tNEXT SLOT\tCHECKED")
			now := time.Now()
			for _, p := range ps {
				last, job := "-", "-"
				if p.LastSlot != nil {
					last = p.LastSlot.UTC().Format(time.RFC3339)
				}
				if p.LastJobID != nil {
					job = fmt.Sprint(*p.LastJobID)
				}
				next := p.NextSlot.UTC().Format(time.RFC3339)
				if d := p.NextSlot.Sub(now); d > 0 {
					next += fmt.Sprintf(" (in %s)", d.Round(time.Second))
				} else {
					next += " (due: no client runs it now?)"
				}
				checked := "-"
				if p.CheckedAt != nil {
					checked = p.CheckedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Schedule, last, job, next, checked)
			}
		})
}

// listCmd is a read-only listing: it reads the rows with read, prints
// them as JSON with --json, says empty when there are none, and otherwise
// writes them with table through a tabwriter.
func listCmd[T any](open openDB, use, short, long, empty string, read func(context.Context, jobs.DB) ([]T, error), table func(io.Writer, []T)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := read(cmd.Context(), db)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, empty)
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			table(w, rows)
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// pausedSince is a queue's PAUSED cell: "no", or since when (and how long
// ago) and by whom.
func pausedSince(q jobs.QueueInfo, now time.Time) string {
	if !q.Paused {
		return "no"
	}
	s := "yes"
	if q.PausedAt != nil {
		// The age is on this machine's clock, the time on the pauser's:
		// a clock a little ahead must not show a negative age.
		age := max(0, now.Sub(*q.PausedAt)).Round(time.Second)
		s = fmt.Sprintf("since %s (%s ago)", q.PausedAt.UTC().Format(time.RFC3339), age)
	}
	if q.PausedBy != "" {
		s += " by " + oneLine(q.PausedBy, 60)
	}
	return s
}

func newJobsPauseCmd(open openDB) *cobra.Command {
	var by string
	cmd := &cobra.Command{
		Use:   "pause QUEUE",
		Short: "Pause a queue: no worker claims its jobs until it is resumed",
		Long: `Pause a queue: from now on no worker, on any replica (including ones
started later), claims its jobs until seatbelt jobs resume QUEUE. Stages
already running finish; jobs can still be enqueued and wait.

--by says who paused it, and why, for whoever finds it paused (jobs queues
shows it, and the metric seatbelt_jobs_queue_paused_seconds how long ago).
It defaults to $USER@hostname.

A queue already paused stays paused since its first pause, by its first
author. A queue no job uses yet can be paused, so that its first jobs wait;
the command says so, in case the name is mistyped.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := jobs.CheckQueueName(name); err != nil {
				return err
			}
			if !cmd.Flags().Changed("by") {
				by = defaultOperator()
			} else if strings.TrimSpace(by) == "" {
				return errors.New("--by is empty; say who pauses the queue (and why), or leave --by out for $USER@hostname")
			}
			ctx := cmd.Context()
			db, err := open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			// PauseQueue stamps the pause with its own clock, stored to the
			// microsecond: a pause older than this was already there.
			start := time.Now().Truncate(time.Microsecond)
			// The pause commits on its own, at once; the report, which
			// counts the queue's jobs, comes after it.
			if err := jobs.PauseQueue(ctx, db, name, by); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			qs, err := jobs.Queues(ctx, db)
			if err != nil {
				fmt.Fprintf(out, "queue %s: paused\n", name)
				return fmt.Errorf("queue %s is paused, but reading it back failed: %w", name, err)
			}
			q := jobs.QueueInfo{Name: name}
			for _, x := range qs {
				if x.Name == name {
					q = x
				}
			}
			switch {
			case !q.Paused:
				// Resumed by someone else in between.
				fmt.Fprintf(out, "queue %s: paused, and resumed since by someone else; it runs\n", name)
				return nil
			case q.PausedAt != nil && q.PausedAt.Before(start):
				fmt.Fprintf(out, "queue %s: already paused %s; left as it was\n", name, pausedSince(q, time.Now()))
			default:
				fmt.Fprintf(out, "queue %s: paused by %s; no worker claims its jobs until seatbelt jobs resume %s (running stages finish)\n",
					name, oneLine(q.PausedBy, 60), shellArg(name))
			}
			var counts []string
			for _, s := range jobs.States {
				if n := q.Counts[s]; n > 0 {
					counts = append(counts, fmt.Sprintf("%d %s", n, s))
				}
			}
			if len(counts) == 0 {
				fmt.Fprintf(out, "no job is in queue %s yet: its first jobs will wait. If the name is mistyped, seatbelt jobs resume %s undoes this and seatbelt jobs queues lists the queues\n",
					name, shellArg(name))
			} else {
				fmt.Fprintf(out, "its jobs: %s\n", strings.Join(counts, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who pauses the queue, and why, as jobs queues shows it (default $USER@hostname)")
	return cmd
}

// defaultOperator is who acts when a command is not told (--by of jobs
// pause, --actor of cancel, cleanup and restart): the operator's login and
// host, so that whoever finds the queue paused or reads a job's history
// knows whom to ask.
func defaultOperator() string {
	who := os.Getenv("USER")
	if who == "" {
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
	}
	if who == "" {
		who = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		who += "@" + host
	}
	return who
}

func newJobsResumeCmd(open openDB) *cobra.Command {
	return &cobra.Command{
		Use:   "resume QUEUE",
		Short: "Resume a paused queue: workers claim its jobs again at once",
		Long: `Resume a paused queue: workers are woken and claim its jobs again at once.
Says whether the queue was paused; resuming one that was not changes
nothing and is not an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := jobs.CheckQueueName(name); err != nil {
				return err
			}
			db, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			was, err := jobs.ResumeQueue(cmd.Context(), db, name)
			if err != nil {
				return err
			}
			if was {
				fmt.Fprintf(cmd.OutOrStdout(), "queue %s: resumed; workers claim its jobs again\n", name)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "queue %s: was not paused; nothing to do\n", name)
			}
			return nil
		},
	}
}

// deleteFlags reads --delete table=column flags into the deleters a
// cleanup takes: seatbelt jobs cleanup's and seatbelt console's.
func deleteFlags(flags []string) (map[string]jobs.Deleter, error) {
	dels := map[string]jobs.Deleter{}
	for _, d := range flags {
		table, col, ok := strings.Cut(d, "=")
		if !ok || table == "" || col == "" {
			return nil, fmt.Errorf("--delete %q: want table=column", d)
		}
		dels[table] = jobs.DeleteByColumn(col)
	}
	return dels, nil
}
