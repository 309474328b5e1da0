package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/lint"
)

type lintOptions struct {
	dirs        []string
	sets        []string
	databaseURL string
	tables      []string
	format      string
	json        bool
	strict      bool
	runnerLock  bool
	multiStmt   bool
	disable     []string
	listRules   bool
}

func newMigrateLintCmd() *cobra.Command {
	var o lintOptions
	cmd := &cobra.Command{
		Use:   "lint [--dir path | --set name=path]... [file.sql]...",
		Short: "Find migration statements that lock, rewrite or break a live service",
		Long: `Lint migrations with PostgreSQL's own parser.

A set (--dir, --set) is a golang-migrate folder: its NNNN_name.up.sql files
are linted in version order. With --database-url (default $DATABASE_URL) only
the migrations the database has not applied yet are linted, read from the
set's golang-migrate version table, and a table created by one of them is new
to the ones after it. Loose .sql files are linted each on its own.

Silence one statement with a comment in front of it that says why:
  -- seatbelt:ignore <rule> <reason>

Exit codes: 0 clean, 1 findings, 2 errors (syntax, file names, connection).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd.Context(), cmd.OutOrStdout(), o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.dirs, "dir", nil, "a folder of golang-migrate files (repeatable)")
	f.StringArrayVar(&o.sets, "set", nil, "a named set, name=path (repeatable)")
	f.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "lint only the migrations this database has not applied")
	f.StringArrayVar(&o.tables, "table", nil, "version table: tbl for every set, or name=tbl for one --set (default schema_migrations)")
	f.StringVar(&o.format, "format", "text", "output: text, json or github (workflow annotations)")
	f.BoolVar(&o.json, "json", false, "same as --format json, like the other migrate commands")
	f.BoolVar(&o.strict, "strict", false, "any index built on an existing table is a finding (indexes are built by hand)")
	f.BoolVar(&o.runnerLock, "runner-sets-lock-timeout", false, "the runner sets lock_timeout (seatbelt migrate up does), so files need not")
	f.BoolVar(&o.multiStmt, "multi-statement", false, "the runner sends statements one by one (golang-migrate x-multi-statement)")
	f.StringSliceVar(&o.disable, "disable", nil, "rules that never fire, comma-separated")
	f.BoolVar(&o.listRules, "rules", false, "list the rules and exit")
	return cmd
}

// lintSet is one migration folder to lint.
type lintSet struct {
	name, dir, table string
}

func runLint(ctx context.Context, out io.Writer, o lintOptions, files []string) error {
	if o.listRules {
		return printRules(out)
	}
	if o.json {
		o.format = "json"
	}
	if o.format != "text" && o.format != "json" && o.format != "github" {
		return fmt.Errorf("--format %q: use text, json or github", o.format)
	}
	sets, err := lintSets(o)
	if err != nil {
		return err
	}
	if len(sets) == 0 && len(files) == 0 {
		return errors.New("nothing to lint: give --dir, --set or .sql files")
	}
	cfg := lint.Config{Strict: o.strict, RunnerSetsLockTimeout: o.runnerLock, MultiStatement: o.multiStmt, Disable: o.disable}
	var conn *pgxpool.Pool
	if o.databaseURL != "" && len(sets) > 0 {
		if ctx == nil {
			ctx = context.Background()
		}
		if conn, err = openPool(ctx, "--database-url", o.databaseURL); err != nil {
			return fmt.Errorf("%w; or leave --database-url out to lint every migration", err)
		}
		defer conn.Close()
	}
	total := &lint.Result{}
	var setErrs []error
	for _, s := range sets {
		c := cfg
		if conn != nil {
			if c.Applied, err = appliedVersion(ctx, conn, s.table); err != nil {
				return err
			}
		}
		res, err := lint.Set(migcheck.Set{Name: s.name, FS: os.DirFS(s.dir), Table: s.table}, &c)
		if err != nil {
			if errors.Is(err, lint.ErrUnknownRule) {
				return fmt.Errorf("--disable: %w", err)
			}
			setErrs = append(setErrs, err)
			continue
		}
		mergeResult(total, res, s.dir)
	}
	if len(files) > 0 {
		res, err := lint.Files(osFS{}, files, &cfg)
		switch {
		case errors.Is(err, lint.ErrUnknownRule):
			return fmt.Errorf("--disable: %w", err)
		case err != nil:
			setErrs = append(setErrs, err)
		default:
			mergeResult(total, res, ".")
		}
	}
	if err := writeLint(out, o.format, total, setErrs); err != nil {
		return err
	}
	switch {
	case len(total.Errors) > 0 || len(setErrs) > 0:
		return fmt.Errorf("%d files could not be linted; fix the errors above", len(total.Errors)+len(setErrs))
	case len(total.Findings) > 0:
		return problems(fmt.Errorf("%d unsafe statements; apply the hints, or put -- seatbelt:ignore <rule> <reason> in front of a statement that is safe", len(total.Findings)))
	}
	return nil
}

func lintSets(o lintOptions) ([]lintSet, error) {
	list, err := parseSetFlags(o.dirs, o.sets, o.tables, func(dir string) string { return dir })
	if err != nil {
		return nil, err
	}
	sets := make([]lintSet, len(list))
	for i, n := range list {
		if n.table == "" {
			n.table = migcheck.DefaultTable
		}
		sets[i] = lintSet{name: n.name, dir: n.dir, table: n.table}
	}
	return sets, nil
}

// appliedVersion reads golang-migrate's version table (one row: version,
// dirty). A missing or empty table means nothing is applied yet.
func appliedVersion(ctx context.Context, conn *pgxpool.Pool, table string) (lint.Applied, error) {
	ident := pgx.Identifier(strings.Split(table, ".")).Sanitize()
	applied := lint.Applied{Known: true, Version: lint.NoVersion}
	err := conn.QueryRow(ctx, "SELECT version, dirty FROM "+ident+" LIMIT 1").Scan(&applied.Version, &applied.Dirty)
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return applied, nil
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		return applied, nil
	case err != nil:
		return applied, fmt.Errorf("reading version table %s: %w; pass --table if the set uses another one", table, err)
	}
	return applied, nil
}

// osFS opens paths as the user typed them, relative or absolute, so loose
// files from several folders are linted in one sequence.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(name) }

// mergeResult adds res to total with paths shown as the user named them.
func mergeResult(total, res *lint.Result, dir string) {
	join := func(p string) string {
		if dir == "." {
			return p
		}
		return filepath.Join(dir, p)
	}
	for _, f := range res.Files {
		total.Files = append(total.Files, join(f))
	}
	for _, f := range res.Findings {
		f.Path = join(f.Path)
		total.Findings = append(total.Findings, f)
	}
	for _, e := range res.Errors {
		c := *e
		c.Path = join(c.Path)
		total.Errors = append(total.Errors, &c)
	}
}

func writeLint(out io.Writer, format string, res *lint.Result, setErrs []error) error {
	switch format {
	case "json":
		type jsonError struct {
			Path    string `json:"path,omitempty"`
			Line    int    `json:"line,omitempty"`
			Col     int    `json:"col,omitempty"`
			Message string `json:"message"`
		}
		doc := struct {
			Files    []string       `json:"files"`
			Findings []lint.Finding `json:"findings"`
			Errors   []jsonError    `json:"errors"`
		}{Files: res.Files, Findings: res.Findings, Errors: []jsonError{}}
		if doc.Files == nil {
			doc.Files = []string{}
		}
		if doc.Findings == nil {
			doc.Findings = []lint.Finding{}
		}
		for _, e := range res.Errors {
			doc.Errors = append(doc.Errors, jsonError{e.Path, e.Line, e.Col, e.Msg})
		}
		for _, e := range setErrs {
			doc.Errors = append(doc.Errors, jsonError{Message: e.Error()})
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	case "github":
		for _, e := range setErrs {
			fmt.Fprintf(out, "::error title=seatbelt migrate lint::%s\n", ghEscape(e.Error()))
		}
		for _, e := range res.Errors {
			fmt.Fprintf(out, "::error file=%s,line=%d,col=%d,title=syntax error::%s\n", ghProp(e.Path), e.Line, e.Col, ghEscape(e.Msg))
		}
		for _, f := range res.Findings {
			fmt.Fprintf(out, "::error file=%s,line=%d,col=%d,title=%s::%s\n", ghProp(f.Path), f.Line, f.Col, ghProp(f.Rule), ghEscape(f.Message+"\nhint: "+f.Hint))
		}
		return nil
	}
	for _, e := range setErrs {
		fmt.Fprintln(out, e)
	}
	for _, e := range res.Errors {
		fmt.Fprintln(out, e)
	}
	for _, f := range res.Findings {
		fmt.Fprintf(out, "%s\n\thint: %s\n", f, f.Hint)
	}
	fmt.Fprintf(out, "%d findings, %d errors in %d files\n", len(res.Findings), len(res.Errors)+len(setErrs), len(res.Files))
	return nil
}

// ghEscape and ghProp escape a workflow command's message and properties.
func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func printRules(out io.Writer) error {
	for _, r := range lint.Rules() {
		if _, err := fmt.Fprintf(out, "%s\n    %s\n    safe: %s\n", r.Name, r.Message, r.Hint); err != nil {
			return err
		}
	}
	return nil
}
