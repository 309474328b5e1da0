package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateBaselineCmd() *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "baseline (--dir path | --set name=path...)",
		Short: "Record the current files of versions applied without a ledger entry",
		Long: `For a database migrated by plain golang-migrate: record in the ledger, as
applied, the current content of every migration at or below each set's
version that has no ledger entry, so later edits to those files are caught.
Check first that the files are the ones that were applied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, pool, err := o.open(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			rec, err := m.Baseline(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return writeJSON(out, map[string]any{"recorded": rec})
			}
			for _, a := range rec {
				fmt.Fprintf(out, "recorded %s %d %s sha256 %s\n", a.Set, a.Version, a.File, a.SHA256[:12])
			}
			fmt.Fprintf(out, "baseline: %d version(s) recorded\n", len(rec))
			return nil
		},
	}
	o.register(cmd)
	return cmd
}
