package main

import "github.com/spf13/cobra"

// newMigrateCmd groups the migration commands; each subcommand lives in its
// own migrate_*.go file.
func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, verify, inspect and lint database migrations",
	}
	cmd.AddCommand(
		newMigrateLintCmd(),
		newMigrateUpCmd(), newMigrateVerifyCmd(), newMigrateStatusCmd(), newMigrateBaselineCmd(), newMigrateForceCmd(),
	)
	return cmd
}
