package migtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// template is one migrated template database and the ready clones of it.
type template struct {
	hash   string
	server string
	sets   []migcheck.Set

	once    sync.Mutex
	ensured bool
}

func (t *template) name() string        { return "migtest_tpl_" + t.hash }
func (t *template) readyPrefix() string { return "migtest_r_" + t.hash + "_" }

func (t *template) urlOf(db string) string {
	return replaceDatabase(t.server, db)
}

// replaceDatabase points a URL or a keyword/value connection string at db.
func replaceDatabase(conn, db string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		return u.String()
	}
	return conn + " dbname=" + db // the last dbname wins
}

// ensure builds the template once across processes: under an advisory lock,
// into a scratch database renamed into place only when fully migrated.
func (t *template) ensure(ctx context.Context) error {
	t.once.Lock()
	defer t.once.Unlock()
	if t.ensured {
		return nil
	}
	err := withAdmin(ctx, t.server, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey(t.hash)); err != nil {
			return err
		}
		defer c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey(t.hash))
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", t.name()).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		scratch := "migtest_build_" + t.hash
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
			return err
		}
		if len(t.sets) > 0 {
			if err := t.migrate(ctx, scratch); err != nil {
				return err
			}
		}
		_, err := c.Exec(ctx, "ALTER DATABASE "+scratch+" RENAME TO "+t.name())
		if err == nil {
			_, err = c.Exec(ctx, "ALTER DATABASE "+t.name()+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("building template %s: %w", t.name(), err)
	}
	t.ensured = true
	return nil
}

func (t *template) migrate(ctx context.Context, db string) error {
	cfg, err := pgxpool.ParseConfig(t.server)
	if err != nil {
		return err
	}
	cfg.ConnConfig.Database = db
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := migcheck.New(pool, &migcheck.Config{Logger: quiet, Host: "migtest"}, t.sets...)
	if err != nil {
		return err
	}
	_, err = m.Apply(ctx)
	return err
}

// claim takes a ready clone by renaming it (only one caller can), or clones
// one now if none is ready.
func (t *template) claim(ctx context.Context) (string, error) {
	name := "migtest_" + t.hash[:8] + "_" + randomSuffix()
	err := withAdmin(ctx, t.server, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", t.readyPrefix())
		if err != nil {
			return err
		}
		ready, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, r := range ready {
			_, err := c.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{r}.Sanitize()+" RENAME TO "+name)
			if err == nil {
				return nil
			}
			if !lostRace(err) {
				return err
			}
		}
		_, err = c.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+t.name())
		return err
	})
	return name, err
}

// lostRace is true when another process claimed or dropped the database
// first.
func lostRace(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "3D000" || pe.Code == "55006")
}

// refill clones one database to replace the one just taken, unless Ready
// are waiting. One per New keeps a test's cleanup, which waits for it, to
// about one clone; a burst of parallel tests that found none ready grows the
// stock by one each.
func (t *template) refill() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = withAdmin(ctx, t.server, func(c *pgx.Conn) error {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)", t.readyPrefix()).Scan(&n); err != nil {
			return err
		}
		if n >= Ready {
			return nil
		}
		_, err := c.Exec(ctx, "CREATE DATABASE "+t.readyPrefix()+randomSuffix()+" TEMPLATE "+t.name())
		return err // on failure the next New clones inline
	})
}

func (t *template) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return withAdmin(ctx, t.server, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	})
}
