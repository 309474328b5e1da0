package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Deleter deletes the rows of table whose keys a job recorded, inside the
// cleanup's transaction, and reports how many went with [CountDeleted].
// Deleting a key that no longer exists must not be an error: cleanup may
// run twice, and TrackNow records keys before their rows exist.
//
// A deleter is also called with no keys, in a transaction that is rolled
// back: by [Cleanup] for each table it is about to clean, before deleting
// anything, and by [Client.Start] for each of Config.Deleters. Such a call
// checks that the deleter can work on table (DeleteByColumn: the table,
// the column and a unique index on it) and must otherwise do nothing.
type Deleter func(ctx context.Context, tx pgx.Tx, table string, keys []string) error

// DeleteByColumn is the plain deleter: DELETE FROM table WHERE column =
// ANY(keys), with both identifiers quoted and the keys cast to the
// column's type (so its index is used).
//
// The column must be unique in the table: a primary key or a valid unique
// index on exactly that column (not partial, not on an expression).
// Otherwise a key could match rows other jobs or users wrote with the same
// value, and they would go too; so DeleteByColumn refuses such a table
// with a [*TableError] before deleting anything. Add a unique index, or
// give that table a Deleter of its own.
//
// table is the name given to [StageRun.Track]. It may be schema-qualified:
// "billing.invoices" is the table invoices in the schema billing. Each
// part is taken as written, case and spaces included (there is no folding
// to lower case as in SQL). A part that itself contains a dot is written
// in double quotes, doubling any double quote inside, as in SQL:
// `"audit.2024"` is the table named audit.2024 (found through the
// search_path), `billing."audit.2024"` the one in the schema billing.
func DeleteByColumn(column string) Deleter {
	return func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		name, err := parseTable(table)
		if err != nil {
			return &TableError{Table: table, Column: column, Problem: err.Error()}
		}
		rel := name.Sanitize()
		col := pgx.Identifier{column}.Sanitize()
		var typ string
		var unique bool
		err = tx.QueryRow(ctx, `
SELECT format_type(a.atttypid, a.atttypmod), EXISTS (
	SELECT 1 FROM pg_index i
	WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indisvalid
	  AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL
)
FROM pg_attribute a
WHERE a.attrelid = $1::text::regclass AND a.attname = $2::text AND a.attnum > 0 AND NOT a.attisdropped`, rel, column).Scan(&typ, &unique)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
			return &TableError{Table: table, Column: column, Problem: fmt.Sprintf("%s (looked up as %s); fix the table name given to Track and to its deleter, or create the table", pgErr.Message, rel)}
		case errors.Is(err, pgx.ErrNoRows):
			return &TableError{Table: table, Column: column, Problem: fmt.Sprintf("the table has no column %s; fix the deleter registered for it", col)}
		case err != nil:
			return fmt.Errorf("jobs: looking up column %q of table %s: %w", column, table, err)
		case !unique:
			return &TableError{Table: table, Column: column, Problem: fmt.Sprintf(
				"no primary key or unique index is on exactly that column, so a key could match rows that other jobs wrote with the same value; "+
					"add one (CREATE UNIQUE INDEX CONCURRENTLY ON %s (%s)), or give the table a Deleter of its own", rel, col)}
		}
		if len(keys) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ANY($1::text[]::%s[])", rel, col, typ), keys)
		if err != nil {
			return err
		}
		CountDeleted(ctx, tag.RowsAffected())
		return nil
	}
}

// parseTable splits a table name as DeleteByColumn reads it: parts
// separated by dots, each taken as written unless it is double-quoted.
func parseTable(table string) (pgx.Identifier, error) {
	const how = `write schema.table, and a name that contains a dot in double quotes ("my.table")`
	var name pgx.Identifier
	rest := table
	for {
		var part string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(rest[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("the name has a double quote that is not closed; %s", how)
				}
				b.WriteString(rest[i : i+j])
				i += j + 1
				if !strings.HasPrefix(rest[i:], `"`) {
					break
				}
				b.WriteByte('"')
				i++
			}
			part, rest = b.String(), rest[i:]
			if rest != "" && rest[0] != '.' {
				return nil, fmt.Errorf("the name goes on after a closing double quote; %s", how)
			}
		} else if i := strings.IndexByte(rest, '.'); i >= 0 {
			part, rest = rest[:i], rest[i:]
		} else {
			part, rest = rest, ""
		}
		if part == "" {
			return nil, fmt.Errorf("the name has an empty part; %s", how)
		}
		name = append(name, part)
		if rest == "" {
			return name, nil
		}
		rest = rest[1:] // the dot
	}
}

type deletedKey struct{}

// deleted is the row count of one table's deletes in one cleanup batch.
type deleted struct {
	rows     int64
	reported bool
}

// CountDeleted adds rows to the count of rows deleted from the table
// whose [Deleter] is running, which [Cleanup] reports in
// CleanupResult.Rows. DeleteByColumn calls it with its DELETE's row count;
// a Deleter of your own calls it with the RowsAffected of its statements.
// Outside a cleanup it does nothing.
func CountDeleted(ctx context.Context, rows int64) {
	if d, ok := ctx.Value(deletedKey{}).(*deleted); ok {
		d.rows += rows
		d.reported = true
	}
}

// checkDeleters calls the deleter of each table with no keys, each in a
// savepoint of one transaction that is rolled back, and returns every
// refusal.
func checkDeleters(ctx context.Context, db DB, deleters map[string]Deleter, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("jobs: checking the deleters: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var errs []error
	for _, table := range tables {
		err := pgx.BeginFunc(ctx, tx, func(tx pgx.Tx) error {
			if err := deleters[table](ctx, tx, table, nil); err != nil {
				return err
			}
			return errCheckOnly // roll the savepoint back whatever the deleter did
		})
		if errors.Is(err, errCheckOnly) {
			continue
		}
		var te *TableError
		if !errors.As(err, &te) {
			err = fmt.Errorf("jobs: the deleter of table %s failed its check: %w", table, err)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var errCheckOnly = errors.New("jobs: check only")
