package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// migrateOptions are the flags every migcheck-backed migrate subcommand
// shares.
type migrateOptions struct {
	databaseURL string
	dir         string
	sets        []string
	tables      []string
	json        bool
	lockWait    time.Duration
}

func (o *migrateOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", directURLDefault(), directURLHelp)
	f.StringVar(&o.dir, "dir", "", `the service's folder of golang-migrate files, as the set named "app"`)
	f.StringArrayVar(&o.sets, "set", nil, "a named set, name=path (repeatable, applied in order)")
	f.StringArrayVar(&o.tables, "table", nil, "version table: tbl for every set, or name=tbl for one set (default schema_migrations)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	f.DurationVar(&o.lockWait, "lock-wait", 0, "how long to wait for another runner (default 10m)")
}

// namedSet is one migration folder named on the command line.
type namedSet struct {
	name, dir, table string
	flag             string // the flags that name it again, for printed commands
}

// parseSetFlags turns --dir, --set and --table into named sets; every
// migrate subcommand, lint included, reads its sets through it. dirName
// names the set of a --dir folder.
func parseSetFlags(dirs, sets, tables []string, dirName func(dir string) string) ([]namedSet, error) {
	defaultTable := ""
	perSet := map[string]string{}
	for _, t := range tables {
		if name, table, ok := strings.Cut(t, "="); ok {
			perSet[name] = table
		} else {
			defaultTable = t
		}
	}
	var list []namedSet
	for _, d := range dirs {
		list = append(list, namedSet{name: dirName(d), dir: d, flag: "--dir " + d})
	}
	for _, s := range sets {
		name, dir, ok := strings.Cut(s, "=")
		if !ok || name == "" || dir == "" {
			return nil, fmt.Errorf("--set %q: write it as name=path", s)
		}
		list = append(list, namedSet{name: name, dir: dir, flag: "--set " + s})
	}
	for i := range list {
		n := &list[i]
		n.table = defaultTable
		if t, ok := perSet[n.name]; ok {
			n.table = t
			delete(perSet, n.name)
		}
		if n.table != "" {
			n.flag += " --table " + n.name + "=" + n.table
		}
	}
	for name := range perSet {
		return nil, fmt.Errorf("--table %s=...: no set is named %q", name, name)
	}
	return list, nil
}

// setArgs returns the sets and, per set name, the flags that name it again
// (for the recovery command a failure prints).
func (o *migrateOptions) setArgs() ([]migcheck.Set, map[string]string, error) {
	var dirs []string
	if o.dir != "" {
		dirs = []string{o.dir}
	}
	list, err := parseSetFlags(dirs, o.sets, o.tables, func(string) string { return "app" })
	if err != nil {
		return nil, nil, err
	}
	if len(list) == 0 {
		return nil, nil, errors.New("no migrations given: pass --dir path, or --set name=path for each set")
	}
	var sets []migcheck.Set
	flags := map[string]string{}
	for _, n := range list {
		st, err := os.Stat(n.dir)
		if err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("set %q: %s is not a folder; pass the folder that holds the NNNN_name.up.sql files", n.name, n.dir)
		}
		sets = append(sets, migcheck.Set{Name: n.name, FS: os.DirFS(n.dir), Table: n.table})
		flags[n.name] = n.flag
	}
	return sets, flags, nil
}

// open connects and builds the Migrator. Its errors are usage or connection
// errors (exit 2).
func (o *migrateOptions) open(ctx context.Context, cmd *cobra.Command, cfg *migcheck.Config) (*migcheck.Migrator, *pgxpool.Pool, error) {
	if err := checkNumberFlags(cmd, durationFlag("lock-wait", "a positive duration such as 10m (the default)", o.lockWait)); err != nil {
		return nil, nil, err
	}
	sets, flags, err := o.setArgs()
	if err != nil {
		return nil, nil, err
	}
	pool, err := openPool(ctx, "--database-url", o.databaseURL)
	if err != nil {
		return nil, nil, err
	}
	if cfg == nil {
		cfg = &migcheck.Config{}
	}
	cfg.LockWait = o.lockWait
	cfg.Hint = migrateHint(sets, flags)
	m, err := migcheck.New(pool, cfg, sets...)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return m, pool, nil
}

// migrateHint names the seatbelt migrate command that fixes a problem of
// sets, which flags name on the command line.
func migrateHint(sets []migcheck.Set, flags map[string]string) func(op migcheck.Op, set string, version int64) string {
	all := make([]string, len(sets))
	for i, st := range sets {
		all[i] = flags[st.Name]
	}
	return func(op migcheck.Op, set string, version int64) string {
		switch op {
		case migcheck.OpForce:
			return fmt.Sprintf("seatbelt migrate force %s --version %d", flags[set], version)
		case migcheck.OpBaseline:
			return "seatbelt migrate baseline " + strings.Join(all, " ")
		case migcheck.OpRecord:
			return fmt.Sprintf("seatbelt migrate baseline %s --applied %d", flags[set], version)
		}
		return "seatbelt migrate up " + strings.Join(all, " ")
	}
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeProblems prints a report's problems, one per line with the fix below.
func writeProblems(out io.Writer, r *migcheck.Report) {
	for _, p := range r.Problems {
		fmt.Fprintf(out, "%s: %s: %s\n", p.Severity, p.Kind, p.Message)
		if p.Fix != "" {
			fmt.Fprintf(out, "    fix: %s\n", p.Fix)
		}
	}
}
