package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateUpCmd() *cobra.Command {
	var o migrateOptions
	var backupDir string
	var lockTimeout, statementTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "up (--dir path | --set name=path...)",
		Short: "Apply pending migrations, one runner at a time, with lock timeouts and a ledger",
		Long: `Apply every pending migration of each set, in order. Waits for another runner
(polling, never blocking), refuses to run on a dirty database or on edited,
missing or out-of-order files, sets lock_timeout (retrying a migration that
hits it) and records each migration in the ledger.

With --backup-dir, pg_dump -Fc writes a backup there first, when anything is
pending.

Exit codes: 0 applied or nothing to do, 1 a migration failed or was refused
(the message says how to recover), 2 usage, connection or lock-wait errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGTERM (a deleted Job, a cancelled CI run) cancels the
			// running statement, leaving the usual recovery message.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			cfg := &migcheck.Config{LockTimeout: lockTimeout, StatementTimeout: statementTimeout}
			if !o.json {
				cfg.OnApplied = func(_ context.Context, a migcheck.Applied) {
					fmt.Fprintf(out, "applied %s %d %s (%v)\n", a.Set, a.Version, a.File, a.Duration.Round(time.Millisecond))
				}
			}
			if backupDir != "" {
				cfg.BeforeApply = func(ctx context.Context, _ migcheck.Plan) error {
					path, err := backup(ctx, o.databaseURL, backupDir)
					if err == nil && !o.json {
						fmt.Fprintf(out, "backup written to %s\n", path)
					}
					return err
				}
			}
			m, pool, err := o.open(ctx, cmd, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := m.Apply(ctx)
			if o.json && res != nil {
				v := map[string]any{"applied": res.Applied, "lock_wait_ms": res.LockWait.Milliseconds()}
				if err != nil {
					v["error"] = err.Error()
				}
				if jerr := writeJSON(out, v); jerr != nil && err == nil {
					err = jerr
				}
			}
			var me *migcheck.MigrationError
			if errors.As(err, &me) || errors.Is(err, migcheck.ErrRefused) {
				return problems(err)
			}
			if err != nil {
				return err
			}
			if !o.json && len(res.Applied) == 0 {
				fmt.Fprintln(out, "up to date: nothing to apply")
			}
			return nil
		},
	}
	o.register(cmd)
	f := cmd.Flags()
	f.StringVar(&backupDir, "backup-dir", "", "run pg_dump -Fc into this folder before applying anything")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "lock_timeout of migration sessions (default 5s)")
	f.DurationVar(&statementTimeout, "statement-timeout", 0, "statement_timeout of migration sessions (default none)")
	return cmd
}

// pgDumpDirs are searched for pg_dump after PATH; tests replace it.
var pgDumpDirs = func() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	return dirs
}

// errNoPgDump is returned when --backup-dir is given and pg_dump is nowhere.
var errNoPgDump = errors.New("pg_dump not found on PATH or under /usr/lib/postgresql/*/bin: install it (apt-get install postgresql-client) or drop --backup-dir; nothing was applied")

func findPgDump() (string, error) {
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p, nil
	}
	for _, d := range pgDumpDirs() {
		p := filepath.Join(d, "pg_dump")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errNoPgDump
}

// backup runs pg_dump -Fc into dir and returns the file's path.
func backup(ctx context.Context, databaseURL, dir string) (string, error) {
	pgDump, err := findPgDump()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("backup folder: %w", err)
	}
	name := "database"
	if cfg, err := pgx.ParseConfig(databaseURL); err == nil && cfg.Database != "" {
		name = cfg.Database
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.dump", name, time.Now().UTC().Format("20060102T150405Z")))
	cmd := exec.CommandContext(ctx, pgDump, "-Fc", "-f", path, "--dbname", databaseURL)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("pg_dump failed, nothing was applied: %v: %s", err, stderr.String())
	}
	return path, nil
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

var _ io.Writer = (*limitedBuffer)(nil)
