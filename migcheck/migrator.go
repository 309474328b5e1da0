package migcheck

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what both a pool and a single connection offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Migrator applies and verifies a fixed list of sets against one database.
// Its files are read and checked once, in [New]. It is safe for concurrent
// use.
type Migrator struct {
	db      *pgxpool.Pool
	cfg     Config
	sets    []loadedSet
	indexes []Index // Config.Indexes
	clock   clock
}

type loadedSet struct {
	Set
	migs      []Migration
	byVersion map[int64]*Migration
}

func (s *loadedSet) newest() int64 {
	if len(s.migs) == 0 {
		return -1
	}
	return s.migs[len(s.migs)-1].Version
}

// New reads and checks the sets' files and returns a Migrator for db. All
// file problems of all sets are returned together. A nil db or a field of
// cfg it cannot use is an error wrapping [ErrInvalidConfig].
func New(db *pgxpool.Pool, cfg *Config, sets ...Set) (*Migrator, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: db is nil; pass a *pgxpool.Pool", ErrInvalidConfig)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("%w: no sets given; pass at least one migcheck.Set", ErrBadSet)
	}
	m := &Migrator{db: db, cfg: c, clock: realClock{}}
	var errs []error
	names, tables := map[string]bool{}, map[string]string{}
	for _, s := range sets {
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("%w: two sets are named %q; give each a distinct Name", ErrBadSet, s.Name))
		}
		if other, dup := tables[s.table()]; dup {
			errs = append(errs, fmt.Errorf("%w: sets %q and %q share version table %q; give each its own Table", ErrBadSet, other, s.Name, s.table()))
		}
		if s.table() == c.LedgerTable {
			errs = append(errs, fmt.Errorf("%w: set %q uses the ledger table %q as its version table", ErrBadSet, s.Name, s.table()))
		}
		names[s.Name], tables[s.table()] = true, s.Name
		migs, err := s.Migrations()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ls := loadedSet{Set: s, migs: migs, byVersion: make(map[int64]*Migration, len(migs))}
		for i := range ls.migs {
			ls.byVersion[ls.migs[i].Version] = &ls.migs[i]
		}
		m.sets = append(m.sets, ls)
	}
	if c.Indexes != nil {
		idx, err := c.Indexes.Indexes()
		if err != nil {
			errs = append(errs, err)
		}
		m.indexes = idx
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Sets returns the sets in the order they are applied.
func (m *Migrator) Sets() []Set {
	out := make([]Set, len(m.sets))
	for i, s := range m.sets {
		out[i] = s.Set
	}
	return out
}

// Apply applies every pending migration of sets, in order, with the default
// [Config]. See [Migrator.Apply].
func Apply(ctx context.Context, db *pgxpool.Pool, sets ...Set) (*Result, error) {
	m, err := New(db, nil, sets...)
	if err != nil {
		return nil, err
	}
	return m.Apply(ctx)
}

// Verify checks db against sets with the default [Config]. See
// [Migrator.Verify].
func Verify(ctx context.Context, db *pgxpool.Pool, sets ...Set) (*Report, error) {
	m, err := New(db, nil, sets...)
	if err != nil {
		return nil, err
	}
	return m.Verify(ctx)
}

// Check runs Verify and returns nil, or a [*VerifyError] listing every
// problem of severity error, or the error that kept Verify from running.
// Its signature is the one a startup gate takes (graceful polls it until it
// returns nil), so a pod does not become ready before the migration job has
// run.
func (m *Migrator) Check(ctx context.Context) error {
	r, err := m.Verify(ctx)
	if err != nil {
		return err
	}
	return r.Err()
}

// quoteIdent quotes a possibly schema-qualified table name.
func quoteIdent(name string) string {
	return pgx.Identifier{name}.Sanitize()
}
