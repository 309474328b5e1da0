package lint

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// linter carries what earlier statements taught about the schema into later
// ones: which tables and indexes are new (created by statements that have not
// reached production, so nobody uses them yet), and which CHECK constraints
// prove a column is not null.
type linter struct {
	cfg        *Config
	newTables  map[string]bool
	newIndexes map[string]bool
	// checks maps table -> constraint name -> the check's facts.
	checks map[string]map[string]*notNullCheck
}

type notNullCheck struct {
	columns []string // columns the expression proves IS NOT NULL
	valid   bool
}

func newLinter(cfg *Config) *linter {
	return &linter{
		cfg:        cfg,
		newTables:  map[string]bool{},
		newIndexes: map[string]bool{},
		checks:     map[string]map[string]*notNullCheck{},
	}
}

// forgetNew treats everything created so far as already in production.
func (l *linter) forgetNew() {
	clear(l.newTables)
	clear(l.newIndexes)
}

// file is the state of one file being walked.
type file struct {
	*linter
	src         *source
	res         *Result // nil when only learning from an applied file
	stmts       int
	inTx        bool
	lockTimeout bool
	// addedNotValid holds table.constraint added NOT VALID in this file.
	addedNotValid map[string]bool
	cur           statement
	findings      []Finding
}

// learn walks an applied file for what it says about constraints, without
// reporting anything or marking its tables new.
func (l *linter) learn(path string, content []byte) {
	src := newSource(path, content)
	tree, perr := src.parse()
	if perr != nil {
		return // it ran in production; nothing useful to say about it here
	}
	f := &file{linter: l, src: src, stmts: len(tree.Stmts), addedNotValid: map[string]bool{}}
	for _, st := range src.statements(tree) {
		f.cur = st
		f.statement(st.raw.Stmt)
	}
}

// lint walks a pending file and appends its findings and errors to res.
func (l *linter) lint(path string, content []byte, res *Result) {
	src := newSource(path, content)
	tree, perr := src.parse()
	if perr != nil {
		res.Errors = append(res.Errors, perr)
		return
	}
	f := &file{linter: l, src: src, res: res, stmts: len(tree.Stmts), addedNotValid: map[string]bool{}}
	for _, st := range src.statements(tree) {
		f.cur = st
		for _, ig := range st.ignores {
			if why := ig.check(); why != "" {
				f.reportAt(ig.at, InvalidIgnore, why)
			}
		}
		f.statement(st.raw.Stmt)
	}
	sortFindings(f.findings)
	res.Findings = append(res.Findings, f.findings...)
}

// report records a finding on the current statement unless the rule is
// disabled or a valid ignore comment in front of the statement names it.
func (f *file) report(rule, subject string) {
	if f.res == nil {
		return
	}
	for _, ig := range f.cur.ignores {
		if ig.check() != "" {
			continue
		}
		for _, r := range ig.rules {
			if r == rule {
				return
			}
		}
	}
	f.reportAt(f.cur.start, rule, subject)
}

func (f *file) reportAt(off int, rule, subject string) {
	if f.res == nil || f.cfg.disabled(rule) {
		return
	}
	r := ruleByName[rule]
	msg := r.Message
	if subject != "" {
		msg = subject + ": " + msg
	}
	line, col := f.src.pos(off)
	f.findings = append(f.findings, Finding{Path: f.src.path, Line: line, Col: col, Rule: rule, Message: msg, Hint: r.Hint})
}

// markNew records a table created by a pending statement. Tables created
// by applied files are not new.
func (f *file) markNew(key string) {
	if f.res != nil {
		f.newTables[key] = true
	}
}

func (f *file) existing(rv *pg.RangeVar) bool { return !f.newTables[relKey(rv)] }

// needsLockTimeout reports missing-lock-timeout for an ACCESS EXCLUSIVE
// statement on an existing table.
func (f *file) needsLockTimeout(subject string) {
	if !f.lockTimeout && !f.cfg.RunnerSetsLockTimeout {
		f.report(MissingLockTimeout, subject)
	}
}

// concurrent reports a CONCURRENTLY statement that would run inside a
// transaction. It fails at deploy time whatever table it is on.
func (f *file) concurrent(subject string) {
	if f.inTx {
		f.report(ConcurrentlyInTransaction, subject+" inside BEGIN/COMMIT")
	} else if f.stmts > 1 && !f.cfg.MultiStatement {
		f.report(ConcurrentlyInTransaction, subject+" in a file with other statements")
	}
}
