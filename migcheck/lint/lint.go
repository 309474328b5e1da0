package lint

import (
	"fmt"
	"io/fs"
	"sort"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

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
