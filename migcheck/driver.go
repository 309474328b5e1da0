package migcheck

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// engine is golang-migrate set up for one set: its own *sql.DB whose
// sessions carry lock_timeout and statement_timeout, and a driver whose
// Lock is a no-op because Apply already holds LockKey.
type engine struct {
	m       *migrate.Migrate
	drv     *lockFreeDriver
	db      *sql.DB
	appName string // unique, so a cancel finds exactly these sessions
}

func (mg *Migrator) newEngine(s *loadedSet) (*engine, error) {
	cc := mg.db.Config().ConnConfig.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["lock_timeout"] = ms(mg.cfg.LockTimeout)
	cc.RuntimeParams["statement_timeout"] = ms(mg.cfg.StatementTimeout)
	appName := "seatbelt-migcheck-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cc.RuntimeParams["application_name"] = appName
	db := stdlib.OpenDB(*cc)
	inner, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: s.table()})
	if err != nil {
		db.Close()
		return nil, err
	}
	drv := &lockFreeDriver{Driver: inner}
	src, err := iofs.New(s.FS, ".")
	if err != nil {
		drv.Close()
		return nil, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return nil, err
	}
	return &engine{m: m, drv: drv, db: db, appName: appName}, nil
}

// migrate runs golang-migrate up to version. golang-migrate takes no
// context, so when ctx ends first the running statement is cancelled from
// another session, which fails the migration like any other error.
func (mg *Migrator) migrate(ctx context.Context, e *engine, version int64) error {
	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-done:
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := pgx.ConnectConfig(cctx, mg.db.Config().ConnConfig.Copy())
			if err != nil {
				mg.cfg.Logger.Error("migcheck: could not connect to cancel the running migration", "err", err)
				return
			}
			defer c.Close(cctx)
			_, err = c.Exec(cctx, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", e.appName)
			if err != nil {
				mg.cfg.Logger.Error("migcheck: could not cancel the running migration", "err", err)
			}
		}
	}()
	err := e.m.Migrate(uint(version))
	close(done)
	<-watcher
	return err
}

func (e *engine) close() {
	e.m.Close() // closes the source and the driver, which closes db
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64(d.Round(time.Millisecond)/time.Millisecond), 10)
}

// lockFreeDriver keeps the last migration's text and PostgreSQL error, which
// golang-migrate's error type does not unwrap to.
type lockFreeDriver struct {
	database.Driver
	lastSQL []byte
	lastErr *pgconn.PgError
}

func (d *lockFreeDriver) Lock() error   { return nil }
func (d *lockFreeDriver) Unlock() error { return nil }

func (d *lockFreeDriver) Run(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	d.lastSQL, d.lastErr = b, nil
	err = d.Driver.Run(bytes.NewReader(b))
	var de database.Error
	if errors.As(err, &de) {
		var pe *pgconn.PgError
		if errors.As(de.OrigErr, &pe) {
			d.lastErr = pe
		}
	}
	return err
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

var nonTransactional = regexp.MustCompile(`(?i)\b(concurrently|commit)\b`)

// transactional reports whether golang-migrate runs the file as one implicit
// transaction (a multi-statement simple query without transaction control),
// so a failure undoes all of it and a retry is safe.
func transactional(sql []byte) bool { return !nonTransactional.Match(sql) }
