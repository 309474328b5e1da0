package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateBaselineCmd() *cobra.Command {
	var o migrateOptions
	var applied []int64
	cmd := &cobra.Command{
		Use:   "baseline (--dir path | --set name=path...) [--applied N,...]",
		Short: "Record the current files of versions applied without a ledger entry",
		Long: `For a database migrated by plain golang-migrate: record in the ledger, as
applied, the current content of every migration at or below each set's
version that has no ledger entry, so later edits to those files are caught.
Check first that the files are the ones that were applied. "migrate up"
refuses to run until this is done.

A version applied without a ledger entry below one that has an entry (plain
golang-migrate, then "migrate up" before this command; or a version completed
by hand and forced by an older seatbelt) is reported out-of-order: the
database cannot tell it from a file added after later ones ran, which never
ran and must be renumbered instead. Record it only if it was applied, by
naming it with --applied (one set only). Everything is recorded in one
transaction, or nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, pool, err := o.open(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			var opts *migcheck.BaselineOpts
			if len(applied) > 0 {
				sets := m.Sets()
				if len(sets) != 1 {
					return fmt.Errorf("--applied names versions of one set: pass one --dir or --set, not %d", len(sets))
				}
				opts = &migcheck.BaselineOpts{Applied: map[string][]int64{sets[0].Name: applied}}
			}
			rec, err := m.Baseline(cmd.Context(), opts)
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
	cmd.Flags().Int64SliceVar(&applied, "applied", nil, "also record these out-of-order versions, which you know were applied (comma-separated or repeated)")
	return cmd
}
