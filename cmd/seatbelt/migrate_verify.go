package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateVerifyCmd() *cobra.Command {
	var o migrateOptions
	var aheadIsError bool
	cmd := &cobra.Command{
		Use:   "verify (--dir path | --set name=path...)",
		Short: "Check that the database has exactly the migrations of these files (read-only)",
		Long: `Compare the database with the migration files and list every problem:
pending, dirty, missing version table, edited, missing or out-of-order files,
versions applied without a ledger entry, invalid indexes, a database ahead of
the files. Verify only reads and takes no lock.

Exit codes: 0 no errors (warnings and info may be printed), 1 problems, 2 usage
or connection errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, pool, err := o.open(cmd.Context(), cmd, &migcheck.Config{AheadIsError: aheadIsError})
			if err != nil {
				return err
			}
			defer pool.Close()
			r, err := m.Verify(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else {
				writeProblems(out, r)
			}
			if err := r.Err(); err != nil {
				ve := err.(*migcheck.VerifyError)
				return problems(fmt.Errorf("%d migration problem(s); apply the fixes above", len(ve.Problems)))
			}
			if !o.json {
				fmt.Fprintf(out, "ok: %d set(s) match the database\n", len(r.Sets))
			}
			return nil
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&aheadIsError, "ahead-is-error", false, "fail when the database has migrations newer than the files")
	return cmd
}
