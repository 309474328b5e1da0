package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateStatusCmd() *cobra.Command {
	var o migrateOptions
	var history bool
	cmd := &cobra.Command{
		Use:   "status (--dir path | --set name=path...)",
		Short: "Show each set's applied and expected version, and the ledger with --history",
		Long: `Print each set's applied version, the newest version of its files, whether it
is dirty, what is pending and any problem Verify finds. Exit 0 unless the
database cannot be reached (2); use "seatbelt migrate verify" to fail on
problems.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, pool, err := o.open(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			r, err := m.Verify(cmd.Context())
			if err != nil {
				return err
			}
			var hist []migcheck.LedgerEntry
			if history {
				if hist, err = m.History(cmd.Context()); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if o.json {
				return writeJSON(out, struct {
					*migcheck.Report
					History []migcheck.LedgerEntry `json:"history,omitempty"`
				}{r, hist})
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SET\tTABLE\tAPPLIED\tEXPECTED\tDIRTY\tPENDING")
			for _, s := range r.Sets {
				applied := fmt.Sprint(s.Applied)
				if !s.TableExists {
					applied = "none"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\t%d\n", s.Set, s.Table, applied, s.Expected, s.Dirty, len(s.Pending))
			}
			tw.Flush()
			if history && len(hist) == 0 {
				fmt.Fprintln(out, "\nno history yet: no migration was applied to this database by seatbelt (the ledger is empty)")
			}
			if len(hist) > 0 {
				fmt.Fprintln(out)
				tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SET\tVERSION\tFILE\tAPPLIED AT\tBY\tDURATION\tSHA256")
				for _, h := range hist {
					by := h.Host + " " + h.Build
					if h.Baseline {
						by += " (baseline)"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%v\t%s\n", h.Set, h.Version, h.File, h.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"), by, h.Duration.Round(1e6), h.SHA256[:12])
				}
				tw.Flush()
			}
			if len(r.Problems) > 0 {
				fmt.Fprintln(out)
				writeProblems(out, r)
			}
			return nil
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&history, "history", false, "also print the ledger of applied migrations")
	return cmd
}
