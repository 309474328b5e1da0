package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newIndexStatusCmd() *cobra.Command {
	var o indexOptions
	var history bool
	cmd := &cobra.Command{
		Use:   "status --dir path",
		Short: "Show each declared index: valid, missing, INVALID, being built, or different from its file",
		Long: `Print, for each index file, what the database holds: valid, missing, INVALID
(left by a failed or killed build), being built right now (with its progress),
different from its file (definitions compared as pg_get_indexdef writes them),
or not buildable here (no such table or column). The indexes no file declares
are listed apart. It changes nothing.

Exit 0 unless the files are bad or the database cannot be reached (2); run
"seatbelt index apply" to build what is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			x, pool, err := o.open(cmd.Context(), nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			rep, err := x.Status(cmd.Context())
			if err != nil {
				return err
			}
			var hist []migcheck.IndexLedgerEntry
			if history {
				if hist, err = x.History(cmd.Context()); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if o.json {
				return writeJSON(out, struct {
					*migcheck.IndexReport
					History []migcheck.IndexLedgerEntry `json:"history,omitempty"`
				}{rep, hist})
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "INDEX\tTABLE\tSTATE")
			for _, s := range rep.Indexes {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Table, s.State)
			}
			tw.Flush()
			for _, s := range rep.Indexes {
				if s.State != migcheck.IndexValid {
					fmt.Fprintf(out, "%s: %s\n", s.State, s.Message)
				}
			}
			if len(rep.Undeclared) > 0 {
				fmt.Fprintln(out, "\nindexes no file declares (made by migrations or by hand):")
				for _, u := range rep.Undeclared {
					valid := ""
					switch {
					case u.Builder != 0:
						valid = fmt.Sprintf(" being built by pid %d; wait for it", u.Builder)
					case !u.Valid:
						valid = " INVALID"
					}
					fmt.Fprintf(out, "  %s%s: %s\n", u.Name, valid, u.Definition)
				}
			}
			if history {
				if len(hist) == 0 {
					fmt.Fprintln(out, "\nno builds recorded yet")
				} else {
					fmt.Fprintln(out)
					tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "INDEX\tACTION\tATTEMPT\tOUTCOME\tSTARTED\tDURATION\tBY")
					for _, h := range hist {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s %s\n", h.Index, h.Action, h.Attempt, h.Outcome,
							h.Started.UTC().Format("2006-01-02 15:04:05Z"), ago(h.Duration), h.Host, h.Build)
					}
					tw.Flush()
				}
			}
			return nil
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&history, "history", false, "also print the ledger of builds")
	return cmd
}
