package lint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// ErrInvalidConfig is wrapped by every error about a [Config] the linter
// cannot use. The message names the field and says what to give instead.
var ErrInvalidConfig = errors.New("lint: invalid config")

// ErrUnknownRule is wrapped, beside [ErrInvalidConfig], by errors about a
// rule name that does not exist.
var ErrUnknownRule = errors.New("lint: unknown rule")

// configError is a Config the linter cannot use. It matches
// ErrInvalidConfig and, when set, the more precise kind.
type configError struct {
	msg  string
	kind error
}

func (e *configError) Error() string { return ErrInvalidConfig.Error() + ": " + e.msg }

func (e *configError) Unwrap() []error {
	if e.kind == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.kind}
}

func (c *Config) validate() (*Config, error) {
	if c == nil {
		return &Config{}, nil
	}
	var unknown []string
	for _, name := range c.Disable {
		if _, ok := ruleByName[name]; !ok {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		return nil, &configError{kind: ErrUnknownRule, msg: fmt.Sprintf("Config.Disable names unknown rule %s; "+
			"see lint.Rules() or 'seatbelt migrate lint --rules' for the names", strings.Join(unknown, ", "))}
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
