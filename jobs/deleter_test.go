package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/jobs"
)

// refKind writes one row to table (a name that is both SQL and the
// ledger's) with the args' Ref as its key, tracks it by that key, then
// fails if the args say so.
func refKind(name, table string) jobs.Kind {
	return jobs.Kind{Name: name, Stages: []jobs.Stage{
		{Name: "write", Run: func(ctx context.Context, r *jobs.StageRun) error {
			var a struct {
				Ref  string
				Fail bool
			}
			if err := r.Args(&a); err != nil {
				return err
			}
			tx, err := r.Tx(ctx)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (ref, job_id) VALUES ($1, $2)", table), a.Ref, r.JobID()); err != nil {
				return err
			}
			return r.Track(ctx, table, a.Ref)
		}},
		{Name: "fail", MaxAttempts: 1, Run: func(ctx context.Context, r *jobs.StageRun) error {
			var a struct{ Fail bool }
			if err := r.Args(&a); err != nil {
				return err
			}
			if a.Fail {
				return errors.New("bug")
			}
			return nil
		}},
	}}
}

func TestDeleteByColumn(t *testing.T) {
	t.Parallel()

	t.Run("RefusesAColumnThatIsNotUniqueAndDeletesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		if _, err := b.db.Exec(ctx, "CREATE TABLE lines (id bigserial PRIMARY KEY, ref text NOT NULL, job_id bigint NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		startClient(t, b.db, testConfig("w"), refKind("ref", "lines"))
		// Two jobs write the same reference; only the first fails.
		bad := enqueue(t, b.db, "ref", map[string]any{"Ref": "march", "Fail": true}, nil)
		good := enqueue(t, b.db, "ref", map[string]any{"Ref": "march"}, nil)
		waitState(t, b.db, bad, "failed", 10*time.Second)
		waitState(t, b.db, good, "succeeded", 10*time.Second)

		opts := &jobs.CleanupOpts{Deleters: map[string]jobs.Deleter{"lines": jobs.DeleteByColumn("ref")}}
		for _, dry := range []bool{true, false} {
			opts.DryRun = dry
			res, err := jobs.Cleanup(ctx, b.db, bad, opts)
			var te *jobs.TableError
			if !errors.As(err, &te) || te.Table != "lines" || te.Column != "ref" {
				t.Fatalf("dry run %v: cleanup by a column that is not unique: %v", dry, err)
			}
			for _, want := range []string{"lines", `"ref"`, "unique index", `CREATE UNIQUE INDEX CONCURRENTLY ON "lines" ("ref")`, "Deleter of its own", "nothing of job"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error lacks %q: %v", want, err)
				}
			}
			if dry && (res == nil || res.Keys["lines"] != 1) {
				t.Fatalf("dry run result %+v", res)
			}
		}
		if n := count(t, b.db, "SELECT count(*) FROM lines WHERE ref = 'march'"); n != 2 {
			t.Fatalf("%d lines left, want both", n)
		}
		if s := jobState(t, b.db, bad).State; s != "failed" {
			t.Fatalf("state %s", s)
		}
		if strings.Contains(strings.Join(events(t, b.db, bad), "|"), "cleanup_started") {
			t.Fatal("a refused cleanup recorded its start")
		}

		if _, err := b.db.Exec(ctx, "CREATE UNIQUE INDEX ON lines (ref, job_id)"); err != nil {
			t.Fatal(err)
		}
		if _, err := jobs.Cleanup(ctx, b.db, bad, opts); err == nil {
			t.Fatal("a unique index on two columns was taken for a unique column")
		}
	})

	t.Run("ClientStartChecksConfigDeleters", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		if _, err := b.db.Exec(ctx, "CREATE TABLE lines (ref text NOT NULL, job_id bigint NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig("w")
		cfg.Deleters = map[string]jobs.Deleter{
			"lines":   jobs.DeleteByColumn("ref"),
			"widgets": jobs.DeleteByColumn("id"),
			"nosuch":  jobs.DeleteByColumn("id"),
			"custom": func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
				if _, err := tx.Exec(ctx, "DELETE FROM widgets"); err != nil {
					return err
				}
				return errors.New("custom says no")
			},
		}
		if _, err := b.db.Exec(ctx, "INSERT INTO widgets (job_id, stage, n) VALUES (1, 'a', 1)"); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, b.db, cfg, refKind("ref", "lines"))
		err := c.Start(ctx)
		var te *jobs.TableError
		if !errors.As(err, &te) {
			t.Fatalf("start: %v", err)
		}
		for _, want := range []string{"Config.Deleters", `table lines by column "ref"`, `relation "nosuch" does not exist`, "the deleter of table custom failed its check: custom says no"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("start error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), "widgets") {
			t.Fatalf("the good deleter was refused: %v", err)
		}
		if n := count(t, b.db, "SELECT count(*) FROM widgets"); n != 1 {
			t.Fatal("the check of a deleter was not rolled back")
		}

		if _, err := b.db.Exec(ctx, "ALTER TABLE lines ADD PRIMARY KEY (ref)"); err != nil {
			t.Fatal(err)
		}
		delete(cfg.Deleters, "nosuch")
		delete(cfg.Deleters, "custom")
		startClient(t, b.db, cfg, refKind("ref", "lines"))
	})

	t.Run("UniqueMeansOneValidIndexOnExactlyThatColumn", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		_, err := b.db.Exec(ctx, `
CREATE TABLE t (pk int PRIMARY KEY, u int, ui int, pair_a int, pair_b int, part int, expr text, plain int, inc int, dup int);
CREATE UNIQUE INDEX ON t (u);
CREATE UNIQUE INDEX ON t (inc) INCLUDE (plain);
ALTER TABLE t ADD CONSTRAINT t_ui UNIQUE (ui);
CREATE UNIQUE INDEX ON t (pair_a, pair_b);
CREATE UNIQUE INDEX ON t (part) WHERE part > 0;
CREATE UNIQUE INDEX ON t (lower(expr));
CREATE INDEX ON t (plain);
INSERT INTO t (pk, dup) VALUES (1, 7), (2, 7);`)
		if err != nil {
			t.Fatal(err)
		}
		// A unique index built concurrently over duplicates fails and
		// stays behind, invalid.
		if _, err := b.db.Exec(ctx, "CREATE UNIQUE INDEX CONCURRENTLY t_dup ON t (dup)"); err == nil {
			t.Fatal("unique index over duplicates was built")
		}
		for col, unique := range map[string]bool{
			"pk": true, "u": true, "ui": true, "inc": true,
			"pair_a": false, "part": false, "expr": false, "plain": false, "dup": false,
		} {
			err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
				return jobs.DeleteByColumn(col)(ctx, tx, "t", []string{"1"})
			})
			var te *jobs.TableError
			if unique && err != nil || !unique && !errors.As(err, &te) {
				t.Errorf("column %s: unique %v, got %v", col, unique, err)
			}
		}
		if n := count(t, b.db, "SELECT count(*) FROM t"); n != 1 {
			t.Fatalf("%d rows left, want 1 (deleted by pk only)", n)
		}
	})

	t.Run("SchemaQualifiedAndDottedTableNames", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		_, err := b.db.Exec(ctx, `
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (ref text PRIMARY KEY, job_id bigint NOT NULL);
CREATE TABLE invoices (ref text PRIMARY KEY, job_id bigint NOT NULL);
CREATE TABLE billing."audit.2024" (ref text PRIMARY KEY, job_id bigint NOT NULL);
CREATE TABLE "my.table" (ref text PRIMARY KEY, job_id bigint NOT NULL);
INSERT INTO invoices VALUES ('same', 0);
INSERT INTO billing."audit.2024" VALUES ('other', 0);`)
		if err != nil {
			t.Fatal(err)
		}
		// Each name is written the same in SQL and in the ledger.
		tables := []string{`billing.invoices`, `billing."audit.2024"`, `"my.table"`}
		cfg := testConfig("w")
		cfg.Deleters = map[string]jobs.Deleter{}
		var kinds []jobs.Kind
		for _, table := range tables {
			cfg.Deleters[table] = jobs.DeleteByColumn("ref")
			kinds = append(kinds, refKind("ref "+table, table))
		}
		c := startClient(t, b.db, cfg, kinds...)
		for _, table := range tables {
			id := enqueue(t, b.db, "ref "+table, map[string]any{"Ref": "same", "Fail": true}, nil)
			waitState(t, b.db, id, "failed", 10*time.Second)
			res, err := c.Cleanup(ctx, id, nil)
			if err != nil || res.Rows[table] != 1 {
				t.Fatalf("%s: cleanup %+v %v", table, res, err)
			}
			if n := count(t, b.db, "SELECT count(*) FROM "+table+" WHERE job_id = $1", id); n != 0 {
				t.Fatalf("%s: row left", table)
			}
		}
		if n := count(t, b.db, `SELECT (SELECT count(*) FROM invoices) + (SELECT count(*) FROM billing."audit.2024")`); n != 2 {
			t.Fatalf("rows of other tables were deleted: %d left, want 2", n)
		}
	})

	t.Run("BadNamesSayHowToWriteThem", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		for name, want := range map[string]string{
			"billing..invoices": "empty part",
			"invoices.":         "empty part",
			"":                  "empty part",
			`"my.table`:         "not closed",
			`"my"table`:         "goes on after a closing double quote",
			"nosuch":            `relation "nosuch" does not exist`,
			"nosuch.invoices":   `schema "nosuch" does not exist`,
			"widgets":           `no column "nope"`,
		} {
			err := pgx.BeginFunc(ctx, b.db, func(tx pgx.Tx) error {
				return jobs.DeleteByColumn("nope")(ctx, tx, name, []string{"1"})
			})
			var te *jobs.TableError
			if !errors.As(err, &te) || te.Table != name || !strings.Contains(err.Error(), want) {
				t.Errorf("table %q: %v; want a TableError saying %q", name, err, want)
			}
		}
	})
}
