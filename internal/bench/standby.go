package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

type benchStandbyOptions struct {
	sizeMB int
	writes int
	holds  int
	json   bool
}

func newBenchStandbyCmd() *cobra.Command {
	var o benchStandbyOptions
	cmd := &cobra.Command{
		Use:   "standby",
		Short: "The wait for a held standby beside pg_dump's, and promote to first write",
		Long: `Starts a throwaway primary and a streaming standby of it (pg_basebackup -R
through a slot) from the installed binaries, fills the primary with --size-mb
of rows, then, while --writes single-row transactions a second go on:

  hold      --holds times: hold the standby (wait until it has replayed the
            primary's position, stop its receiver, pause), then release it
            and let it catch up; the hold's wait, p50 and max
  pg_dump   pg_dump -Fc of the same database: the wait for the other kind of
            safety copy
  promote   hold, then promote the standby: time from the request to the
            first write it accepts

Goals: hold under 1 s, promote under 5 s. Both servers are removed at the end.
With --json the last line is one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.sizeMB < 1 || o.writes < 1 || o.holds < 1 {
				return usageError{errors.New("--size-mb, --writes and --holds must be positive")}
			}
			return runBenchStandby(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.sizeMB, "size-mb", 1024, "size of the database the copies are of, in MB")
	f.IntVar(&o.writes, "writes", 200, "single-row transactions a second on the primary during the measurements")
	f.IntVar(&o.holds, "holds", 5, "holds (each followed by a release) to time")
	f.BoolVar(&o.json, "json", false, "print one JSON object as the last line")
	return cmd
}

type benchStandbyResult struct {
	Machine       string  `json:"machine"`
	SizeMB        int64   `json:"size_mb"`
	WritesPerSec  int     `json:"writes_per_sec"`
	Holds         int     `json:"holds"`
	HoldP50Ms     float64 `json:"hold_p50_ms"`
	HoldMaxMs     float64 `json:"hold_max_ms"`
	PgDumpSeconds float64 `json:"pg_dump_seconds"`
	PromoteMs     float64 `json:"promote_ms"`
}

func runBenchStandby(ctx context.Context, out, errOut io.Writer, o benchStandbyOptions) error {
	progress := progressTo(errOut, o.json)
	opts := &pglocal.Options{Logger: quiet}
	primary, err := pglocal.StartThrowaway(ctx, opts)
	if err != nil {
		return err
	}
	defer primary.Close()
	progress("filling the primary with %d MB...", o.sizeMB)
	pdb, err := pgxpool.New(ctx, primary.URL)
	if err != nil {
		return err
	}
	defer pdb.Close()
	// About 1 KB a row of hex digits (no two alike, so pg_dump compresses
	// it as it would real text, not a repeated string), in 64 MB
	// statements, so that no one transaction is huge.
	if _, err := pdb.Exec(ctx, `CREATE TABLE filler (id bigint PRIMARY KEY, body text NOT NULL); CREATE TABLE writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	const rowsPerMB = 990
	for done := 0; done < o.sizeMB; done += 64 {
		n := min(64, o.sizeMB-done) * rowsPerMB
		if _, err := pdb.Exec(ctx, `INSERT INTO filler SELECT g, (SELECT string_agg(md5((g * 31 + k)::text), '') FROM generate_series(1, 30) k) FROM generate_series($1::bigint, $2::bigint) g`, done*rowsPerMB+1, done*rowsPerMB+n); err != nil {
			return err
		}
	}
	var size int64
	if err := pdb.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return err
	}
	progress("copying it to a streaming standby (pg_basebackup)...")
	stby, err := pglocal.StartStandby(ctx, primary, opts)
	if err != nil {
		return err
	}
	defer stby.Close()
	sdb, err := pgxpool.New(ctx, stby.URL)
	if err != nil {
		return err
	}
	defer sdb.Close()
	pair, err := standby.New(pdb, sdb, &standby.Config{Logger: quiet, Timeout: 5 * time.Minute})
	if err != nil {
		return err
	}

	wctx, stopWriting := context.WithCancel(ctx)
	var writing sync.WaitGroup
	writing.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(o.writes))
		defer tick.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			_, _ = pdb.Exec(wctx, `INSERT INTO writes DEFAULT VALUES`)
		}
	})
	defer func() { stopWriting(); writing.Wait() }()

	res := benchStandbyResult{Machine: machine(),
		SizeMB: size >> 20, WritesPerSec: o.writes, Holds: o.holds}
	var waits []time.Duration
	for i := range o.holds {
		// Caught up and streaming under the writes, as between deploys.
		if err := caughtUp(ctx, pair); err != nil {
			return err
		}
		time.Sleep(time.Second)
		progress("hold %d of %d...", i+1, o.holds)
		start := time.Now()
		if _, err := pair.Hold(ctx); err != nil {
			return err
		}
		waits = append(waits, time.Since(start))
		if err := pair.Release(ctx); err != nil {
			return err
		}
	}
	slices.Sort(waits)
	res.HoldP50Ms, res.HoldMaxMs = ms(waits[len(waits)/2]), ms(waits[len(waits)-1])

	progress("pg_dump -Fc of the %d MB database...", res.SizeMB)
	took, err := timePgDump(ctx, primary.URL)
	if err != nil {
		return err
	}
	res.PgDumpSeconds = took.Seconds()

	progress("hold, then promote...")
	if err := caughtUp(ctx, pair); err != nil {
		return err
	}
	if _, err := pair.Hold(ctx); err != nil {
		return err
	}
	promoted, err := standby.Promote(ctx, sdb, nil)
	if err != nil {
		return err
	}
	res.PromoteMs = ms(promoted.Took)
	return writeBenchStandby(out, res, o.json)
}

// caughtUp waits until the standby streams and has replayed the primary's
// position as of the call (under writes it is always a little behind the
// position of the moment).
func caughtUp(ctx context.Context, pair *standby.Pair) error {
	deadline := time.Now().Add(10 * time.Minute)
	var target standby.LSN
	for {
		st, err := pair.Status(ctx)
		if err != nil {
			return err
		}
		if target == 0 {
			target = st.PrimaryLSN
		}
		if st.Receiver == "streaming" && st.ReplayedLSN >= target {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the standby did not catch up in 10 minutes: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// timePgDump runs pg_dump -Fc of url into a temporary file and returns how
// long it took.
func timePgDump(ctx context.Context, url string) (time.Duration, error) {
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		return 0, fmt.Errorf("pg_dump is not installed (apt-get install postgresql-client): %w", err)
	}
	dir, err := os.MkdirTemp("", "seatbelt-bench-dump-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if out, err := exec.CommandContext(ctx, bin, "-Fc", "-f", filepath.Join(dir, "db.dump"), "-d", url).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pg_dump: %w\n%s", err, out)
	}
	return time.Since(start), nil
}

func writeBenchStandby(out io.Writer, r benchStandbyResult, asJSON bool) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bench standby: %s, a %d MB database, %d writes/s on the primary\n", r.Machine, r.SizeMB, r.WritesPerSec)
	fmt.Fprintln(tw, "MEASURE\tRESULT\tGOAL\tMET")
	fmt.Fprintf(tw, "hold the standby, wait p50 / max of %d\t%.0f / %.0f ms\t< 1 s\t%s\n", r.Holds, r.HoldP50Ms, r.HoldMaxMs, met(r.HoldMaxMs < 1000))
	fmt.Fprintf(tw, "pg_dump -Fc of the same database\t%.1f s\tcompared\t\n", r.PgDumpSeconds)
	fmt.Fprintf(tw, "promote the held standby to its first write\t%.0f ms\t< 5 s\t%s\n", r.PromoteMs, met(r.PromoteMs < 5000))
	return endTable(tw, out, r, asJSON)
}
