package migcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// engine is golang-migrate set up for one set. golang-migrate reads the
// files and decides what runs in which order; sessionDriver, its database
// driver, runs them on the runner's own session, the one that holds
// [LockKey]. Two things follow that golang-migrate's own drivers cannot give:
//
//   - a server backend that outlives a killed runner still holds the lock,
//     so no other runner starts the same migration beside it;
//   - a transactional file commits in one transaction with its version and
//     its ledger row: it is applied and recorded, or neither, and the
//     version table is never left dirty by it.
type engine struct {
	m   *migrate.Migrate
	drv *sessionDriver
}

func (mg *Migrator) newEngine(ctx context.Context, conn *pgx.Conn, s *loadedSet) (*engine, error) {
	drv := &sessionDriver{mg: mg, conn: conn, set: s, ctx: ctx}
	if err := drv.ensureVersionTable(); err != nil {
		return nil, err
	}
	src, err := iofs.New(s.FS, ".")
	if err != nil {
		return nil, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "seatbelt", drv)
	if err != nil {
		src.Close()
		return nil, err
	}
	return &engine{m: m, drv: drv}, nil
}

func (e *engine) close() {
	e.m.Close() // closes the source; the driver leaves the session to its owner
}

// run applies mig, which must be the set's next version, and returns what was
// recorded. golang-migrate takes no context, so the driver carries ctx; pgx
// cancels the running statement when it ends.
func (e *engine) run(ctx context.Context, mig *Migration, attempt int) (Applied, error) {
	d := e.drv
	d.ctx, d.cur, d.attempt, d.applied, d.lastSQL, d.lastErr = ctx, mig, attempt, nil, nil, nil
	defer func() { d.cur, d.ctx = nil, context.Background() }()
	err := e.m.Migrate(uint(mig.Version))
	if d.tx != nil { // Run failed or golang-migrate stopped in between
		d.rollback()
	}
	if err != nil {
		return Applied{}, err
	}
	if d.applied == nil {
		return Applied{}, fmt.Errorf("golang-migrate found nothing to do at version %d", mig.Version)
	}
	return *d.applied, nil
}

// sessionDriver is a golang-migrate database driver over one pgx session.
// Lock and Unlock do nothing because the session already holds LockKey.
type sessionDriver struct {
	mg   *Migrator
	conn *pgx.Conn
	set  *loadedSet
	ctx  context.Context

	cur     *Migration // the migration being applied, nil for Force
	attempt int
	start   time.Time
	tx      pgx.Tx // open while a transactional file runs
	applied *Applied

	lastSQL []byte
	lastErr *pgconn.PgError
}

var _ database.Driver = (*sessionDriver)(nil)

func (d *sessionDriver) Open(string) (database.Driver, error) {
	return nil, errors.New("migcheck: the session driver is not opened by URL")
}

func (d *sessionDriver) Close() error  { return nil }
func (d *sessionDriver) Lock() error   { return nil }
func (d *sessionDriver) Unlock() error { return nil }
func (d *sessionDriver) Drop() error {
	return errors.New("migcheck: dropping the database is not supported")
}

func (d *sessionDriver) table() string { return quoteIdent(d.set.table()) }

// ensureVersionTable creates golang-migrate's version table, in the shape
// its postgres drivers use, so plain golang-migrate can read it.
func (d *sessionDriver) ensureVersionTable() error {
	_, err := d.conn.Exec(d.ctx, `CREATE TABLE IF NOT EXISTS `+d.table()+` (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`)
	if err != nil {
		return fmt.Errorf("creating version table %s: %w", d.set.table(), err)
	}
	return nil
}

func (d *sessionDriver) Version() (version int, dirty bool, err error) {
	var v int64
	err = d.conn.QueryRow(d.ctx, `SELECT version, dirty FROM `+d.table()+` LIMIT 1`).Scan(&v, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return database.NilVersion, false, nil
	}
	return int(v), dirty, err
}

// SetVersion is called with dirty=true before a file runs and with
// dirty=false after it ran. A transactional file runs between the two in one
// transaction that also writes the clean version and the ledger row; a file
// that cannot run in a transaction (CONCURRENTLY, COMMIT) leaves the set
// dirty until it finished, and each of its statements is recorded as it
// completes, so Verify can tell what ran.
func (d *sessionDriver) SetVersion(version int, dirty bool) error {
	ctx := d.ctx
	mig := d.cur
	if mig == nil || int64(version) != mig.Version { // Force
		return pgx.BeginFunc(ctx, d.conn, func(tx pgx.Tx) error {
			if err := d.writeVersion(tx, version, dirty); err != nil {
				return err
			}
			if mig != nil || dirty {
				return nil
			}
			return d.recordForced(tx, int64(version))
		})
	}
	if dirty {
		d.start = time.Now()
		if transactional(mig.content) {
			tx, err := d.conn.Begin(ctx)
			if err != nil {
				return err
			}
			d.tx = tx
			return nil
		}
		return pgx.BeginFunc(ctx, d.conn, func(tx pgx.Tx) error {
			if err := d.writeVersion(tx, version, true); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM `+quoteIdent(d.mg.stepsTable())+` WHERE set_name = $1 AND version = $2`, d.set.Name, mig.Version)
			return err
		})
	}
	a := Applied{Set: d.set.Name, Version: mig.Version, File: mig.File, SHA256: mig.SHA256, Duration: time.Since(d.start), Attempts: d.attempt}
	finish := func(tx pgx.Tx) error {
		if err := d.writeVersion(tx, version, false); err != nil {
			return err
		}
		return d.mg.record(ctx, tx, a)
	}
	if d.tx != nil {
		tx := d.tx
		d.tx = nil
		if err := finish(tx); err != nil {
			tx.Rollback(context.Background())
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	} else if err := pgx.BeginFunc(ctx, d.conn, finish); err != nil {
		return fmt.Errorf("migcheck: set %q migration %d ran but marking it applied failed, so the set stays dirty at it: %w", d.set.Name, mig.Version, err)
	}
	d.applied = &a
	return nil
}

// recordForced writes the ledger row of a version Force marks applied, in
// Force's transaction. Without it the version, completed by hand after a
// failed migration, has no ledger row; once the next migration is recorded
// above it, Verify takes the gap for a file added late (out-of-order) and
// every start fails. It writes nothing when the version is recorded
// already, has no file, or when a version below it has no ledger row
// either: recording it would turn those, which Baseline records once
// checked, into out-of-order ones; left unrecorded, it is recorded with them.
func (d *sessionDriver) recordForced(tx pgx.Tx, version int64) error {
	mig := d.set.byVersion[version]
	if mig == nil {
		return nil
	}
	var recorded []int64
	err := tx.QueryRow(d.ctx, `SELECT coalesce(array_agg(DISTINCT version), '{}') FROM `+quoteIdent(d.mg.cfg.LedgerTable)+
		` WHERE set_name = $1::text AND version <= $2::bigint`, d.set.Name, version).Scan(&recorded)
	if err != nil {
		return fmt.Errorf("migcheck: reading the ledger to record forced version %d: %w", version, err)
	}
	have := make(map[int64]bool, len(recorded))
	for _, v := range recorded {
		have[v] = true
	}
	if have[version] {
		return nil
	}
	for _, m := range d.set.migs {
		if m.Version < version && !have[m.Version] {
			return nil
		}
	}
	return d.mg.record(d.ctx, tx, Applied{Set: d.set.Name, Version: version, File: mig.File, SHA256: mig.SHA256, baseline: true})
}

// writeVersion stores the version as golang-migrate's postgres drivers do:
// one row, or none for "no version".
func (d *sessionDriver) writeVersion(tx pgx.Tx, version int, dirty bool) error {
	if _, err := tx.Exec(d.ctx, `TRUNCATE `+d.table()); err != nil {
		return err
	}
	if version >= 0 || (version == database.NilVersion && dirty) {
		_, err := tx.Exec(d.ctx, `INSERT INTO `+d.table()+` (version, dirty) VALUES ($1::bigint, $2::boolean)`, int64(version), dirty)
		return err
	}
	return nil
}

func (d *sessionDriver) Run(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b = withoutBOM(b) // golang-migrate reads the file as it is
	d.lastSQL, d.lastErr = b, nil
	if d.tx != nil {
		// No arguments: pgx sends the file as one simple-protocol query,
		// so a multi-statement file runs as written.
		_, err = d.tx.Exec(d.ctx, string(b))
		if err != nil {
			d.rollback()
		}
	} else {
		err = d.runSteps(b)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		d.lastErr = pe
	}
	return err
}

// runSteps runs a file that cannot be one transaction statement by
// statement, outside any transaction, recording each one that completes.
func (d *sessionDriver) runSteps(file []byte) error {
	stmts := SplitStatements(string(file))
	offset := 0
	for i, st := range stmts {
		d.lastSQL = []byte(st.SQL)
		offset = st.Offset
		if err := d.runStep(st.SQL); err != nil {
			if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Position > 0 {
				// Position counts characters of the statement; make it
				// count from the start of the file.
				pe.Position += int32(len([]rune(string(file[:offset]))))
			}
			d.lastSQL = file
			return err
		}
		_, err := d.conn.Exec(d.ctx, `INSERT INTO `+quoteIdent(d.mg.stepsTable())+` (set_name, version, sha256, statement, statements, sql)
			VALUES ($1::text, $2::bigint, $3::text, $4::int, $5::int, $6::text)`,
			d.set.Name, d.cur.Version, d.cur.SHA256, i+1, len(stmts), st.SQL)
		if err != nil {
			d.lastSQL = file
			return fmt.Errorf("statement %d of %d ran, but recording it failed: %w", i+1, len(stmts), err)
		}
	}
	d.lastSQL = file
	return nil
}

// leadingComments skips the blanks and comments before a statement's first
// keyword: what a statement is depends on how it begins, not on a word in a
// comment or a string.
const leadingComments = `(?is)^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*`

// concurrentIndex begins the statements that build or drop an index
// CONCURRENTLY.
const concurrentIndex = `create\s+(unique\s+)?index\s+concurrently|drop\s+index\s+concurrently|reindex\b[^;]*\bconcurrently`

// waitsOutTransactions matches the statements that build or drop an index
// CONCURRENTLY, after any leading comments.
var waitsOutTransactions = regexp.MustCompile(leadingComments + `(` + concurrentIndex + `)\b`)

// runStep runs one statement of a file that cannot be one transaction. A
// CONCURRENTLY index build or drop runs without lock_timeout: it waits for
// every transaction older than it (a long report, a stuck session), and
// its lock, SHARE UPDATE EXCLUSIVE, blocks no ordinary read or write while
// it waits, so lock_timeout would only throw the work away and leave an
// INVALID index, again on every retry. (migcheck.Indexer builds the same
// way.)
func (d *sessionDriver) runStep(sql string) error {
	if !waitsOutTransactions.MatchString(sql) {
		_, err := d.conn.Exec(d.ctx, sql)
		return err
	}
	if _, err := d.conn.Exec(d.ctx, "SET lock_timeout = 0"); err != nil {
		return err
	}
	_, err := d.conn.Exec(d.ctx, sql)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), 5*time.Second)
	defer cancel()
	if _, rerr := d.conn.Exec(ctx, "SET lock_timeout = "+quoteLiteral(ms(d.mg.cfg.LockTimeout))); rerr != nil && err == nil {
		err = fmt.Errorf("restoring lock_timeout after the statement: %w", rerr)
	}
	return err
}

func (d *sessionDriver) rollback() {
	if d.tx == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.tx.Rollback(ctx)
	d.tx = nil
}

// position turns PostgreSQL's 1-based character offset into line and column.
func position(sql []byte, pos int32) (line, col int) {
	if pos <= 0 {
		return 0, 0
	}
	runes := []rune(strings.ReplaceAll(string(sql), "\r\n", "\n"))
	if int(pos) > len(runes) {
		return 0, 0
	}
	line, col = 1, 1
	for _, r := range runes[:pos-1] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// outsideTransaction matches, by their leading keywords, the statements
// PostgreSQL refuses inside a transaction block, and COMMIT and END, which
// end one.
var outsideTransaction = regexp.MustCompile(leadingComments + `(` + concurrentIndex +
	`|alter\s+table\b[^;]*\bdetach\s+partition\b[^;]*\bconcurrently|reindex\s+(database|system)|commit|end|vacuum|alter\s+system|create\s+database|drop\s+database)\b`)

// transactional reports whether the file runs as one transaction, so a
// failure undoes all of it and a retry is safe. A file with a statement
// that cannot (CREATE INDEX CONCURRENTLY, COMMIT, VACUUM, ALTER SYSTEM,
// CREATE DATABASE, ...) runs statement by statement. Each statement is
// judged by how it begins: such a word in a comment or a string must not
// cost the file its all-or-nothing transaction.
func transactional(sql []byte) bool {
	for _, st := range SplitStatements(string(sql)) {
		if outsideTransaction.MatchString(st.SQL) {
			return false
		}
	}
	return true
}
