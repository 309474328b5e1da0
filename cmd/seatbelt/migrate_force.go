package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateForceCmd() *cobra.Command {
	var o migrateOptions
	var version int64
	var allowMissing bool
	cmd := &cobra.Command{
		Use:   "force (--dir path | --set name=path) --version N",
		Short: "Set a set's version and clear its dirty flag, running nothing",
		Long: `After a failed migration, once its changes are undone (or completed) by hand:
mark the set clean at the version before it (or at it). --version -1 means no
version. A version the set has no file for is refused (a typo would make
"migrate up" skip every migration below it) unless --allow-missing. Runs
nothing; holds the migration lock while it writes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("version") {
				return errors.New("--version is required: the version the set is really at (-1 for none)")
			}
			m, pool, err := o.open(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			defer pool.Close()
			sets := m.Sets()
			if len(sets) != 1 {
				return fmt.Errorf("force changes one set: pass one --dir or --set, not %d", len(sets))
			}
			if err := m.Force(cmd.Context(), sets[0].Name, version, &migcheck.ForceOpts{AllowMissing: allowMissing}); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return writeJSON(out, map[string]any{"set": sets[0].Name, "version": version})
			}
			fmt.Fprintf(out, "set %s forced to version %d; now run: seatbelt migrate up\n", sets[0].Name, version)
			return nil
		},
	}
	o.register(cmd)
	cmd.Flags().Int64Var(&version, "version", 0, "the version to record (-1 for none)")
	cmd.Flags().BoolVar(&allowMissing, "allow-missing", false, "record a version that has no file in the set")
	return cmd
}
