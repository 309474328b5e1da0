package rehearse

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AckReport is what the database showed of the writes the service
// acknowledged.
type AckReport struct {
	Checked    int64 `json:"checked"`
	Violations int64 `json:"violations"`
	// Examples describe the first 10 violations.
	Examples []string `json:"examples,omitempty"`
	// Error is why the acks could not be checked; Cause what it points to.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

const (
	ackBatchSize   = 500
	ackExamples    = 10
	invariantPoll  = 250 * time.Millisecond
	sampleMaxBytes = 300
)

// CheckAcks looks up every write the traffic's steps acknowledged, with the
// step's ack query: a write the query does not find, or finds with other
// data than the service answered, is a violation. The queries go in
// batches, one round trip each. A query that fails is an error naming its
// step, not a violation: it means the scenario's SQL is wrong.
func (t *Traffic) CheckAcks(ctx context.Context, db *pgxpool.Pool) (AckReport, error) {
	t.mu.Lock()
	acks := slices.Clone(t.acks)
	t.mu.Unlock()
	var rep AckReport
	for chunk := range slices.Chunk(acks, ackBatchSize) {
		b := &pgx.Batch{}
		for _, a := range chunk {
			b.Queue(a.query, a.args...)
		}
		res := db.SendBatch(ctx, b)
		for _, a := range chunk {
			problem, err := checkAck(res, a)
			if err != nil {
				_ = res.Close()
				return rep, findAckError(ctx, db, chunk, err)
			}
			rep.Checked++
			if problem != "" {
				rep.Violations++
				if len(rep.Examples) < ackExamples {
					rep.Examples = append(rep.Examples, fmt.Sprintf("%s (args %s): %s", a.step, argsText(a.args), problem))
				}
			}
		}
		if err := res.Close(); err != nil {
			return rep, fmt.Errorf("rehearse: checking acknowledged writes: %w", err)
		}
	}
	return rep, nil
}

// findAckError names the step whose query failed a batch: a batch is
// prepared as a whole, so its error may surface on an earlier query's
// result. The queries run again one by one until one fails.
func findAckError(ctx context.Context, db *pgxpool.Pool, chunk []ackRecord, batchErr error) error {
	for _, a := range chunk {
		rows, err := db.Query(ctx, a.query, a.args...)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return fmt.Errorf("rehearse: ack of step %q (args %s): %w; fix the step's ack query", a.step, argsText(a.args), err)
		}
	}
	return fmt.Errorf("rehearse: checking acknowledged writes: %w", batchErr)
}

// checkAck reads one ack's result: "" if the write is there as answered,
// else what is wrong.
func checkAck(res pgx.BatchResults, a ackRecord) (string, error) {
	rows, err := res.Query()
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		rows.Close()
		return "not in the database", rows.Err()
	}
	vals, err := rows.Values()
	if err != nil {
		return "", err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !a.hasWant {
		return "", nil
	}
	if len(vals) == 0 {
		return "", errors.New("the query returns no column for equals to compare")
	}
	got := columnValue(vals[0], a.want)
	if !sameJSON(got, a.want) {
		return fmt.Sprintf("the database has %s, the service answered %s", clip(compactJSON(got), 200), clip(compactJSON(a.want), 200)), nil
	}
	return "", nil
}

// columnValue is a column's value as JSON: json and jsonb come decoded; a
// text column is a string, unless the answer's value is not a string and
// the text is JSON (a document kept in a text column).
func columnValue(v, want any) any {
	switch x := v.(type) {
	case string:
		if _, wantString := want.(string); !wantString {
			return textValue(x)
		}
	case [16]byte:
		return uuidText(x)
	}
	return v
}

func argsText(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprint(a)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// InvariantResult is what one invariant's query found.
type InvariantResult struct {
	Name  string `json:"name"`
	Cause string `json:"cause"`
	// Rows is how many rows the last run of the query returned.
	Rows int64 `json:"rows"`
	// Sample is the first row as text, "column=value, ...".
	Sample string `json:"sample,omitempty"`
	OK     bool   `json:"ok"`
	// Error is why the query could not run; then OK is false and, when the
	// query names a table or column the new schema lacks, Cause is schema.
	Error string `json:"error,omitempty"`
}

// queryCause is the cause a failed check query points to: a table or a
// column the query names that the database lacks is the schema's doing
// (the new build's migration dropped or renamed it); anything else is the
// query's.
func queryCause(err error, otherwise string) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42703" || pgErr.Code == "42P01") {
		return CauseSchema
	}
	return otherwise
}

// CheckInvariants runs every invariant's query in order, each retried
// every 250 ms until it returns no rows or its Within has passed. A query
// that fails is an error naming the invariant; the results of the others
// are still returned.
func CheckInvariants(ctx context.Context, db *pgxpool.Pool, invs []Invariant) ([]InvariantResult, error) {
	return checkInvariants(ctx, db, invs, invariantPoll, nil)
}

// checkInvariants is CheckInvariants with its poll interval, and a hook
// told of each run's row count, for tests.
func checkInvariants(ctx context.Context, db *pgxpool.Pool, invs []Invariant, poll time.Duration, ran func(name string, rows int64)) ([]InvariantResult, error) {
	// In file order, one after the other: an invariant that waits (within)
	// for background work to finish comes first, and the ones after it
	// then see that work done, so each of them need not wait for it too.
	results := make([]InvariantResult, len(invs))
	var errs []error
	for i, inv := range invs {
		var err error
		if results[i], err = checkInvariant(ctx, db, inv, poll, ran); err != nil {
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

func checkInvariant(ctx context.Context, db *pgxpool.Pool, inv Invariant, poll time.Duration, ran func(string, int64)) (InvariantResult, error) {
	r := InvariantResult{Name: inv.Name, Cause: inv.Cause}
	if r.Cause == "" {
		r.Cause = "data"
	}
	deadline := time.Now().Add(time.Duration(inv.Within))
	for {
		var err error
		if r.Rows, r.Sample, err = countRows(ctx, db, inv.Query); err != nil {
			r.Error, r.Cause = err.Error(), queryCause(err, r.Cause)
			return r, fmt.Errorf("rehearse: invariant %q: %w", inv.Name, err)
		}
		if ran != nil {
			ran(inv.Name, r.Rows)
		}
		if r.Rows == 0 {
			r.OK = true
			return r, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return r, nil
		}
		timer := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return r, fmt.Errorf("rehearse: invariant %q: %w", inv.Name, ctx.Err())
		case <-timer.C:
		}
	}
}

// countRows runs q and returns its row count and its first row as text.
func countRows(ctx context.Context, db *pgxpool.Pool, q string) (int64, string, error) {
	rows, err := db.Query(ctx, q)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	var n int64
	var sample string
	for rows.Next() {
		n++
		if n == 1 {
			vals, err := rows.Values()
			if err != nil {
				return 0, "", err
			}
			sample = rowText(rows.FieldDescriptions(), vals)
		}
	}
	return n, sample, rows.Err()
}

func rowText(fields []pgconn.FieldDescription, vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fields[i].Name + "=" + valueText(v)
	}
	return clip(strings.Join(parts, ", "), sampleMaxBytes)
}

func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return string(x)
	case [16]byte:
		return uuidText(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case map[string]any, []any:
		return compactJSON(x)
	case driver.Valuer: // numeric and the other pgtype values
		if dv, err := x.Value(); err == nil {
			return valueText(dv)
		}
	}
	return fmt.Sprint(v)
}

func uuidText(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
