package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// NoVersion is the [Applied] version of a database that has run none of the
// set's migrations (golang-migrate's own "nil version" is the same number).
const NoVersion int64 = -1

// Applied says which migrations of a set the database has already run.
//
// The zero value means "not known": every file is linted, each as if every
// file before it were already in production, so only a table created earlier
// in the same file counts as new. When the database is known (the CLI's
// --database-url), files at or below Version are skipped and a table created
// by any pending file is new to the pending files after it.
type Applied struct {
	// Known says Version and Dirty were read from the database. Defaults to
	// false.
	Known bool
	// Version is the newest version in the set's version table, or
	// [NoVersion] when the table is empty or missing. Defaults to 0.
	Version int64
	// Dirty says Version failed part-way; it is linted again, since it has
	// to be fixed and rerun. Defaults to false.
	Dirty bool
}

// Config tunes the linter. A nil *Config is the zero Config.
type Config struct {
	// Strict makes every index built on an existing table a finding
	// (index-in-migration), CONCURRENTLY or not: the policy where indexes
	// are built by hand and migrations only record them. Defaults to false.
	Strict bool
	// RunnerSetsLockTimeout says the migration runner sets lock_timeout for
	// every session, as migcheck.Apply does, so files need not set their
	// own and missing-lock-timeout never fires. Defaults to false.
	RunnerSetsLockTimeout bool
	// MultiStatement says the runner sends each statement of a file on its
	// own (golang-migrate's x-multi-statement), so a CONCURRENTLY statement
	// next to others only fails inside BEGIN/COMMIT. Defaults to false: a
	// file is one implicit transaction, as golang-migrate runs it.
	MultiStatement bool
	// Disable names rules that never fire. Defaults to none.
	Disable []string
	// Applied says what the database has already run, for [Dir]. Defaults
	// to not known.
	Applied Applied
}

// ErrUnknownRule is wrapped by errors about a rule name that does not exist.
var ErrUnknownRule = errors.New("lint: unknown rule")

func (c *Config) validate() (*Config, error) {
	if c == nil {
		return &Config{}, nil
	}
	for _, name := range c.Disable {
		if _, ok := ruleByName[name]; !ok {
			return nil, fmt.Errorf("%w %q in Config.Disable; see lint.Rules() or 'seatbelt migrate lint --rules' for the names", ErrUnknownRule, name)
		}
	}
	return c, nil
}

func (c *Config) disabled(rule string) bool {
	for _, name := range c.Disable {
		if name == rule {
			return true
		}
	}
	return false
}

// Finding is one unsafe statement.
type Finding struct {
	// Path is the file's name as given to the linter.
	Path string `json:"path"`
	// Line and Col locate the statement's first token, both from 1; Col
	// counts bytes.
	Line int `json:"line"`
	Col  int `json:"col"`
	// Rule is the rule's name, as in [Rule.Name].
	Rule string `json:"rule"`
	// Message says what goes wrong.
	Message string `json:"message"`
	// Hint is the safe alternative.
	Hint string `json:"hint"`
}

// String is "path:line:col: rule: message", the form editors and CI jump to.
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", f.Path, f.Line, f.Col, f.Rule, f.Message)
}

// ParseError is a file PostgreSQL's parser rejects. The file is not linted.
type ParseError struct {
	Path      string
	Line, Col int
	Msg       string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: syntax error: %s (fix the SQL; the linter uses PostgreSQL's own parser)", e.Path, e.Line, e.Col, e.Msg)
}

// Result is everything one lint run found.
type Result struct {
	// Files are the names linted, in the order they were linted.
	Files []string
	// Findings are ordered by file, then position.
	Findings []Finding
	// Errors are the files that could not be parsed.
	Errors []*ParseError
}

// Clean reports whether nothing was found and every file parsed.
func (r *Result) Clean() bool { return len(r.Findings) == 0 && len(r.Errors) == 0 }

// Dir lints the golang-migrate set at the root of fsys; it is [Set] for a
// set named "migrations".
func Dir(fsys fs.FS, cfg *Config) (*Result, error) {
	return Set(migcheck.Set{Name: "migrations", FS: fsys}, cfg)
}

// Set lints a migration set: its .up.sql files in version order, skipping
// the ones cfg.Applied says the database already ran. Tables created by a
// pending file are new to the files after it. The files are read and checked
// by migcheck, so a badly named file or a duplicate version is the same
// error ([migcheck.ErrBadFileName], [migcheck.ErrDuplicateVersion]) that
// Apply would give.
func Set(set migcheck.Set, cfg *Config) (*Result, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	migrations, err := set.Migrations()
	if err != nil {
		return nil, err
	}
	l := newLinter(cfg)
	res := &Result{}
	for _, m := range migrations {
		content, err := fs.ReadFile(set.FS, m.File)
		if err != nil {
			return nil, fmt.Errorf("lint: set %q: %w", set.Name, err)
		}
		pending := !cfg.Applied.Known || m.Version > cfg.Applied.Version ||
			(cfg.Applied.Dirty && m.Version == cfg.Applied.Version)
		if !cfg.Applied.Known {
			l.forgetNew()
		}
		if !pending {
			l.learn(m.File, content)
			continue
		}
		res.Files = append(res.Files, m.File)
		l.lint(m.File, content, res)
	}
	return res, nil
}

// Files lints the named files of fsys in the given order. Only a table
// created earlier in the same file counts as new; CHECK constraints seen in
// earlier files still count for set-not-null-without-check. Use it for loose
// SQL files; use [Dir] for a migration set.
func Files(fsys fs.FS, names []string, cfg *Config) (*Result, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	l := newLinter(cfg)
	res := &Result{}
	for _, name := range names {
		content, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("lint: %w", err)
		}
		l.forgetNew()
		res.Files = append(res.Files, name)
		l.lint(name, content, res)
	}
	return res, nil
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Line != fs[j].Line {
			return fs[i].Line < fs[j].Line
		}
		return fs[i].Col < fs[j].Col
	})
}
