package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func newEventlogRevertCmd(open eventlogOpen) *cobra.Command {
	var (
		to            int64
		expect        int64
		actor, reason string
		dryRun        bool
		typ           string
	)
	cmd := &cobra.Command{
		Use:   "revert TYPE/ID --to VERSION",
		Short: "Append a new version of a stream equal to an old one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("to") {
				return errors.New("--to is required: the version to restore (0 for \"did not exist\")")
			}
			pool, store, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			defer store.Close()
			stream, err := streamArg(cmd.Context(), store, args[0], typ)
			if err != nil {
				return err
			}
			res, err := store.Revert(cmd.Context(), stream, to, &eventlog.RevertOpts{
				Expected: eventlog.ExpectedVersion(expect), Actor: actor, Reason: reason, DryRun: dryRun,
			})
			if err != nil {
				return eventlogRefused(err)
			}
			verb := "reverted"
			if dryRun {
				verb = "would revert"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s from version %d to version %d's data as version %d: %s\n",
				verb, stream, res.From, res.To, res.Version, clip(string(res.Data), 200))
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&to, "to", 0, "the version to restore (0: the stream did not exist)")
	f.Int64Var(&expect, "expect", 0, "refuse unless the stream is at this version (default: any)")
	f.StringVar(&actor, "actor", defaultActor(), "who is reverting (default $USER)")
	f.StringVar(&reason, "reason", "", "why, kept in the history")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be appended and write nothing")
	addTypeFlag(cmd, &typ)
	return cmd
}

func newEventlogRevertWriterCmd(open eventlogOpen) *cobra.Command {
	var (
		since         string
		actor, reason string
		force, dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "revert-writer WRITER --since TIME",
		Short: "Revert every stream a build changed since a time to its version before that build",
		Long: `Revert every stream WRITER (a build, as stored on its records) changed at or
after --since to the version before WRITER's first change. Streams another
writer changed afterwards are skipped and reported (exit 1) unless --force.
Running it again only touches what is left.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := time.Parse(time.RFC3339Nano, since)
			if err != nil {
				return fmt.Errorf("--since must be an RFC 3339 time such as 2026-11-25T04:00:00Z: %v", err)
			}
			pool, store, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			defer store.Close()
			rep, err := store.RevertWriter(cmd.Context(), args[0], t, &eventlog.RevertWriterOpts{
				Force: force, DryRun: dryRun, Actor: actor, Reason: reason,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tWRITER'S VERSIONS\tNOW\tOUTCOME")
			left := 0
			for _, s := range rep.Streams {
				outcome := ""
				switch {
				case s.Result != nil && dryRun:
					outcome = fmt.Sprintf("would revert to %d as version %d", s.Before, s.Result.Version)
				case s.Result != nil:
					outcome = fmt.Sprintf("reverted to %d as version %d", s.Before, s.Result.Version)
				default:
					outcome = "skipped: " + s.Skipped
					if !s.Reverted {
						left++
					}
				}
				fmt.Fprintf(tw, "%s\t%d..%d\t%d\t%s\n", s.Stream, s.FirstVersion, s.LastVersion, s.Current, outcome)
			}
			tw.Flush()
			verb := "reverted"
			if dryRun {
				verb = "would revert"
			}
			fmt.Fprintf(out, "%s %d of %d streams written by %s since %s\n", verb, rep.Reverted(), len(rep.Streams), rep.Writer, t.UTC().Format(time.RFC3339))
			if left > 0 {
				return problems(fmt.Errorf("%d stream(s) left alone; see the table, then revert by hand or rerun with --force", left))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "RFC 3339 time; changes at or after it are undone (required)")
	f.StringVar(&actor, "actor", defaultActor(), "who is reverting (default $USER)")
	f.StringVar(&reason, "reason", "", `why, kept in the history (default "revert writer W since T")`)
	f.BoolVar(&force, "force", false, "also revert streams other writers changed afterwards, discarding those changes")
	f.BoolVar(&dryRun, "dry-run", false, "show what would be done and write nothing")
	cmd.MarkFlagRequired("since")
	return cmd
}
