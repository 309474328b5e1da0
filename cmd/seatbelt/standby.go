package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

// newStandbyCmd groups the commands on a streaming standby held for each
// deploy; the library is migcheck/standby.
func newStandbyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "standby",
		Short: "Hold a streaming standby as the database was before a deploy; release it, or promote it",
		Long: `A streaming standby of the service's database (pg_basebackup -R, best
through a replication slot so the primary keeps the WAL it misses while
held) becomes the safety copy of each deploy:

  seatbelt standby hold     wait until it has replayed the primary's position,
                            then stop its WAL receiver and pause replay
  seatbelt migrate up --hold-standby URL   the same, just before migrating
  seatbelt standby release  after a good deploy: it catches up again
  seatbelt standby promote  the primary is lost or the deploy destroyed data:
                            make the held standby the primary
  seatbelt standby status   where it stands

The primary is --database-url (default $DATABASE_DIRECT_URL, else
$DATABASE_URL), the standby --standby-url (default $STANDBY_URL); both need a
superuser or a role allowed ALTER SYSTEM and the WAL replay functions.`,
	}
	cmd.AddCommand(newStandbyStatusCmd(), newStandbyHoldCmd(), newStandbyReleaseCmd(), newStandbyPromoteCmd())
	return cmd
}

// standbyOptions are the flags the standby subcommands share.
type standbyOptions struct {
	databaseURL string
	standbyURL  string
	name        string
	json        bool
}

func (o *standbyOptions) register(cmd *cobra.Command, withPrimary bool) {
	f := cmd.Flags()
	if withPrimary {
		f.StringVar(&o.databaseURL, "database-url", directURLDefault(), "the primary, "+directURLHelp)
		f.StringVar(&o.name, "name", "standby", "the standby's name in the primary's record of holds")
	}
	f.StringVar(&o.standbyURL, "standby-url", os.Getenv("STANDBY_URL"), "the standby (default $STANDBY_URL)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

// openStandby connects to the standby, and to the primary when asked.
func (o *standbyOptions) open(ctx context.Context, withPrimary bool) (primary, stby *pgxpool.Pool, err error) {
	if o.standbyURL == "" {
		return nil, nil, errors.New("no standby: pass --standby-url or set STANDBY_URL")
	}
	if withPrimary {
		if primary, err = openPool(ctx, "--database-url", o.databaseURL); err != nil {
			return nil, nil, err
		}
	}
	if stby, err = openPool(ctx, "--standby-url", o.standbyURL); err != nil {
		if primary != nil {
			primary.Close()
		}
		return nil, nil, err
	}
	return primary, stby, nil
}

// pair opens both servers as a standby.Pair; closeAll closes them.
func (o *standbyOptions) pair(ctx context.Context, cfg *standby.Config) (p *standby.Pair, closeAll func(), err error) {
	primary, stby, err := o.open(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	closeAll = func() { primary.Close(); stby.Close() }
	if cfg == nil {
		cfg = &standby.Config{}
	}
	cfg.Name = o.name
	if p, err = standby.New(primary, stby, cfg); err != nil {
		closeAll()
		return nil, nil, err
	}
	return p, closeAll, nil
}

// standbyRefusal marks the errors that mean "looked, and refused" (exit 1):
// the server is not this primary's standby, it did not catch up in time, it
// is not held.
func standbyRefusal(err error) error {
	for _, e := range []error{standby.ErrNotStandby, standby.ErrNotPrimary, standby.ErrNotItsStandby, standby.ErrTimeout, standby.ErrNotHeld} {
		if errors.Is(err, e) {
			return problems(err)
		}
	}
	return err
}

func newStandbyStatusCmd() *cobra.Command {
	var o standbyOptions
	cmd := &cobra.Command{
		Use:   "status --standby-url URL",
		Short: "Whether the standby streams from the primary, how far behind it is, and whether it is held",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, closeAll, err := o.pair(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer closeAll()
			st, err := p.Status(cmd.Context())
			if err != nil {
				return standbyRefusal(err)
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			writeStandbyStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	o.register(cmd, true)
	return cmd
}

func writeStandbyStatus(out io.Writer, st *standby.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	receiver := st.Receiver
	switch {
	case st.Held():
		receiver = "stopped by a hold"
	case receiver == "":
		receiver = "none: not streaming (check its primary_conninfo and the primary's pg_hba.conf)"
	}
	fmt.Fprintf(w, "held\t%v\n", st.Held())
	fmt.Fprintf(w, "WAL receiver\t%s\n", receiver)
	fmt.Fprintf(w, "replay paused\t%v\n", st.Paused)
	fmt.Fprintf(w, "primary at\t%s\n", st.PrimaryLSN)
	fmt.Fprintf(w, "received up to\t%s\n", st.ReceivedLSN)
	fmt.Fprintf(w, "replayed up to\t%s (%d bytes behind the primary, %.1f s behind what it received)\n", st.ReplayedLSN, st.LagBytes, st.LagSeconds)
	if !st.LastReplayed.IsZero() {
		fmt.Fprintf(w, "last replayed commit\t%s\n", st.LastReplayed.UTC().Format(time.RFC3339))
	}
	if h := st.Hold; h != nil {
		fmt.Fprintf(w, "primary's record\t%s at %s since %s by %s\n", h.State, h.LSN, h.At.UTC().Format(time.RFC3339), h.Deploy)
	}
	w.Flush()
}

func newStandbyHoldCmd() *cobra.Command {
	var o standbyOptions
	cfg := standby.Config{}
	cmd := &cobra.Command{
		Use:   "hold --standby-url URL",
		Short: "Wait until the standby has the primary's current state, then freeze it there",
		Long: `Record the hold on the primary, wait (up to --timeout) until the standby has
replayed the primary's current WAL position, then stop its WAL receiver and
pause replay. It then stays as the database is now while the primary moves on.
A standby held before is released first, so it catches up to now.

Exit codes: 0 held, 1 refused or timed out (nothing is held), 2 usage or
connection errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			held, err := holdStandby(cmd.Context(), cmd.ErrOrStderr(), o, cfg)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), held)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "held %s at %s (%s); release it after a good deploy: seatbelt standby release\n",
				held.Standby, held.LSN, held.At.UTC().Format(time.RFC3339))
			return nil
		},
	}
	o.register(cmd, true)
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 0, "how long to wait for the standby to catch up (default 60s)")
	cmd.Flags().StringVar(&cfg.Deploy, "deploy", "", "who holds it, for the record (default the host name)")
	return cmd
}

// holdStandby holds the standby o names, printing the wait to progress; the
// hold command and migrate up --hold-standby share it.
func holdStandby(ctx context.Context, progress io.Writer, o standbyOptions, cfg standby.Config) (*standby.Hold, error) {
	var last time.Time
	cfg.OnProgress = func(pr standby.Progress) {
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(progress, "standby: replayed up to %s of %s, %d bytes behind, waited %s\n", pr.Replayed, pr.Target, pr.LagBytes, ago(pr.Waited))
		}
	}
	p, closeAll, err := o.pair(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	held, err := p.Hold(ctx)
	return held, standbyRefusal(err)
}

func newStandbyReleaseCmd() *cobra.Command {
	var o standbyOptions
	cmd := &cobra.Command{
		Use:   "release --standby-url URL",
		Short: "End the hold: the standby's WAL receiver comes back and it catches up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, closeAll, err := o.pair(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer closeAll()
			if err := p.Release(cmd.Context()); err != nil {
				return standbyRefusal(err)
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"released": o.name})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "released %s; it catches up with the primary (seatbelt standby status shows how far)\n", o.name)
			return nil
		},
	}
	o.register(cmd, true)
	return cmd
}

func newStandbyPromoteCmd() *cobra.Command {
	var o standbyOptions
	opts := standby.PromoteOpts{}
	cmd := &cobra.Command{
		Use:   "promote --standby-url URL",
		Short: "Make the held standby the primary, when the primary is lost or a deploy destroyed data",
		Long: `Promote the standby (pg_promote) and wait until it accepts writes. It needs no
primary: that may be gone. It refuses a standby that is not held, which would
first replay everything it received, unless --force.

Afterwards point the services at the promoted server, and keep the old
primary from taking writes again.

Exit codes: 0 promoted, 1 refused (not a standby, not held), 2 usage or
connection errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, stby, err := o.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer stby.Close()
			res, err := standby.Promote(cmd.Context(), stby, &opts)
			if err != nil {
				return standbyRefusal(err)
			}
			if o.json {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "promoted in %s at %s; point the services at %s (DATABASE_URL and DATABASE_DIRECT_URL), and keep the old primary from taking writes\n",
				ago(res.Took), res.LSN, o.standbyURL) // the output is redacted (redactWriter)
			return nil
		},
	}
	o.register(cmd, false)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "promote a standby that is not held (it first replays all it received)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "how long to wait for the promotion (default 60s)")
	return cmd
}
