package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// summaryConsumer is the event-log consumer that keeps customer_summaries:
// other services would follow the log the same way. Its writes commit in the
// transaction that moves its checkpoint, so each record counts exactly once
// even when a replica dies mid-batch.
const summaryConsumer = "customer-summaries"

// summaryTables are the two tables of the summaries' read model: the live
// ones, or the copies a rebuild fills (rebuildSummaries).
type summaryTables struct{ totals, sums string }

var liveSummaries = summaryTables{totals: "order_totals", sums: "customer_summaries"}

func summarize(ctx context.Context, tx pgx.Tx, rec *eventlog.Record) error {
	return liveSummaries.apply(ctx, tx, rec)
}

// apply moves the summaries past one record: the order's old total leaves
// its customer's sums, its new one joins them.
func (t summaryTables) apply(ctx context.Context, tx pgx.Tx, rec *eventlog.Record) error {
	if rec.Stream.Type != "order" {
		return nil
	}
	var oldCustomer string
	var oldTotal int64
	err := tx.QueryRow(ctx, `SELECT customer, total_cents FROM `+t.totals+` WHERE order_id = $1`, rec.Stream.ID).
		Scan(&oldCustomer, &oldTotal)
	existed := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if existed {
		if _, err := tx.Exec(ctx, `UPDATE `+t.sums+` SET orders = orders - 1, total_cents = total_cents - $2, updated_at = now() WHERE customer = $1`,
			oldCustomer, oldTotal); err != nil {
			return err
		}
	}
	if string(rec.Data) == "null" { // reverted to "no order"
		_, err := tx.Exec(ctx, `DELETE FROM `+t.totals+` WHERE order_id = $1`, rec.Stream.ID)
		return err
	}
	var o Order
	if err := json.Unmarshal(rec.Data, &o); err != nil {
		return fmt.Errorf("order %s version %d: %w", rec.Stream.ID, rec.Version, err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO `+t.sums+` AS s (customer, orders, total_cents) VALUES ($1, 1, $2)
		ON CONFLICT (customer) DO UPDATE SET orders = s.orders + 1,
			total_cents = s.total_cents + EXCLUDED.total_cents, updated_at = now()`,
		o.Customer, o.TotalCents); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO `+t.totals+` (order_id, customer, total_cents, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_id) DO UPDATE SET customer = EXCLUDED.customer, total_cents = EXCLUDED.total_cents, version = EXCLUDED.version`,
		rec.Stream.ID, o.Customer, o.TotalCents, rec.Version)
	return err
}

type customerSummary struct {
	Customer   string    `json:"customer"`
	Orders     int64     `json:"orders"`
	TotalCents int64     `json:"total_cents"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func customerSummaryHandler(db *pgxpool.Pool, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := customerSummary{Customer: r.PathValue("customer")}
		if err := checkText("customer", s.Customer); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		err := db.QueryRow(r.Context(), `SELECT orders, total_cents, updated_at FROM customer_summaries WHERE customer = $1`, s.Customer).
			Scan(&s.Orders, &s.TotalCents, &s.UpdatedAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			writeError(w, http.StatusNotFound, fmt.Errorf("customer %s: no orders summarized yet", s.Customer))
		case err != nil:
			serverError(w, r, logger, err)
		default:
			writeJSON(w, http.StatusOK, s)
		}
	}
}
