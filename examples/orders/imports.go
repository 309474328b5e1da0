package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
)

// importKind is a bulk import: a multi-stage job that creates many orders.
// Each create stage appends its orders and records them in the job's ledger
// in the stage's own transaction, so a stage's orders exist exactly once,
// whatever crashes, and a failed import can be cleaned up and restarted.
const importKind = "order-import"

// importQueue is the queue imports wait in: they are heavy, so each
// replica runs at most importWorkers at once (the orders API keeps its
// connections), and an operator can hold them during a risky deploy
// without touching anything else: seatbelt jobs pause imports.
const (
	importQueue   = "imports"
	importWorkers = 4
)

// jobQueues are the queues the service's job client works.
var jobQueues = map[string]jobs.QueueConfig{jobs.DefaultQueue: {}, importQueue: {MaxWorkers: importWorkers}}

// importBatches is how many create stages an import has; each creates its
// share of the orders.
const importBatches = 5

// orderTable is the ledger's name for orders created by an import.
const orderTable = "order"

type importArgs struct {
	Customer string `json:"customer"`
	Orders   int    `json:"orders"`
}

func (a *importArgs) validate() error {
	var errs []error
	if a.Customer == "" || len(a.Customer) > 100 {
		errs = append(errs, errors.New("customer: required, at most 100 characters"))
	}
	if a.Orders < 1 || a.Orders > 5000 {
		errs = append(errs, fmt.Errorf("orders: want 1 to 5000, got %d", a.Orders))
	}
	return errors.Join(errs...)
}

func stageName(i int) string { return fmt.Sprintf("create-%d", i+1) }

// importOrderID names the n-th order of import job; a rerun of the stage
// after cleanup appends a new version to the same stream.
func importOrderID(job int64, n int) string { return fmt.Sprintf("imp-%d-%05d", job, n) }

// batchRange is the orders [from, to) that create stage i makes.
func batchRange(total, i int) (from, to int) {
	per := (total + importBatches - 1) / importBatches
	return min(i*per, total), min((i+1)*per, total)
}

func importJobKind(log *eventlog.Store) jobs.Kind {
	k := jobs.Kind{Name: importKind}
	for i := range importBatches {
		k.Stages = append(k.Stages, jobs.Stage{Name: stageName(i), Run: func(ctx context.Context, r *jobs.StageRun) error {
			return createBatch(ctx, r, log, i)
		}})
	}
	k.Stages = append(k.Stages, jobs.Stage{Name: "finish", Run: func(ctx context.Context, r *jobs.StageRun) error {
		var args importArgs
		if err := r.Args(&args); err != nil {
			return err
		}
		return r.SetResult(map[string]int{"orders": args.Orders})
	}})
	return k
}

func createBatch(ctx context.Context, r *jobs.StageRun, log *eventlog.Store, i int) error {
	var args importArgs
	if err := r.Args(&args); err != nil {
		return err
	}
	tx, err := r.Tx(ctx)
	if err != nil {
		return err
	}
	from, to := batchRange(args.Orders, i)
	keys := make([]any, 0, to-from)
	for n := from; n < to; n++ {
		o := Order{Customer: args.Customer, Status: "new", ImportID: strconv.FormatInt(r.JobID(), 10),
			Items: []Item{{SKU: fmt.Sprintf("sku-%d", n%50), Qty: 1, PriceCents: int64(100 + n%900)}}}
		if err := o.normalize(); err != nil {
			return err
		}
		data, _ := json.Marshal(o)
		id := importOrderID(r.JobID(), n)
		if _, err := log.AppendTx(ctx, tx, orderStream(id), []eventlog.NewRecord{{Data: data}},
			&eventlog.AppendOpts{Actor: "import " + strconv.FormatInt(r.JobID(), 10), Reason: "import"}); err != nil {
			return err
		}
		keys = append(keys, id)
	}
	if err := r.Track(ctx, orderTable, keys...); err != nil {
		return err
	}
	return r.SetResult(map[string]int{"created": to - from})
}

// deleteOrders is the cleanup of imported orders. Orders are never deleted
// from the event log: each gets a new version with no order (null), which
// the summary consumer turns into a removal, and the history keeps the rest.
func deleteOrders(log *eventlog.Store) jobs.Deleter {
	return func(ctx context.Context, tx pgx.Tx, table string, keys []string) error {
		for _, k := range keys {
			latest, err := latestInTx(ctx, tx, k)
			if err != nil {
				return err
			}
			if latest == "null" || latest == "" {
				continue // already gone, or never created: cleanup may run twice
			}
			if _, err := log.AppendTx(ctx, tx, orderStream(k), []eventlog.NewRecord{{Data: json.RawMessage("null")}},
				&eventlog.AppendOpts{Actor: "cleanup", Reason: "import cleanup"}); err != nil {
				return err
			}
			jobs.CountDeleted(ctx, 1) // an order "deleted" by a tombstone version
		}
		return nil
	}
}

// latestInTx returns the order's latest data as seen by tx, "" if none.
func latestInTx(ctx context.Context, tx pgx.Tx, id string) (string, error) {
	var data string
	err := tx.QueryRow(ctx, `SELECT data::text FROM eventlog_records WHERE stream_type = 'order' AND stream_id = $1 ORDER BY version DESC LIMIT 1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return data, err
}

// importsAPI serves bulk imports.
type importsAPI struct {
	db       *pgxpool.Pool
	deleters map[string]jobs.Deleter
	logger   *slog.Logger
}

func (a *importsAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /imports", a.create)
	mux.HandleFunc("GET /imports/{id}", a.get)
	mux.HandleFunc("POST /imports/{id}/cleanup", a.cleanup)
	mux.HandleFunc("POST /imports/{id}/restart", a.restart)
}

// create enqueues an import. An Idempotency-Key is unique among the
// imports not yet finished: a retry while the first is queued or running
// gets its id (duplicate: true); the same key with other arguments is
// refused.
func (a *importsAPI) create(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var args importArgs
	if !decodeJSON(w, r, &args) {
		return
	}
	if err := args.validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res, err := jobs.Enqueue(r.Context(), a.db, importKind, args, &jobs.EnqueueOpts{UniqueKey: key, Queue: importQueue})
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	if res.Duplicate {
		first, err := jobs.Get(r.Context(), a.db, res.ID)
		if err != nil {
			serverError(w, r, a.logger, err)
			return
		}
		var firstArgs importArgs
		if json.Unmarshal(first.Args, &firstArgs) != nil || first.Kind != importKind || firstArgs != args {
			writeError(w, http.StatusUnprocessableEntity, fmt.Errorf("Idempotency-Key: import %d, still live, was started with this key and other arguments; send a new key with a new request", res.ID))
			return
		}
	}
	w.Header().Set("Location", fmt.Sprintf("/imports/%d", res.ID))
	writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID, "duplicate": res.Duplicate})
}

func jobID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("import id: want a positive integer, got %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// importView is an import as the API shows it.
type importView struct {
	ID         int64                      `json:"id"`
	Queue      string                     `json:"queue"`
	State      jobs.JobState              `json:"state"`
	Stage      string                     `json:"stage"`
	Attempt    int                        `json:"attempt"`
	Args       json.RawMessage            `json:"args"`
	Results    map[string]json.RawMessage `json:"results"`
	LastError  string                     `json:"last_error,omitempty"`
	CreatedAt  time.Time                  `json:"created_at"`
	FinishedAt *time.Time                 `json:"finished_at,omitempty"`
	History    []eventView                `json:"history"`
	// Entities counts the orders the import created that cleanup has not
	// removed.
	Entities int `json:"entities"`
}

type eventView struct {
	At      time.Time       `json:"at"`
	Event   jobs.EventKind  `json:"event"`
	Stage   string          `json:"stage,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	Worker  string          `json:"worker,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

func (a *importsAPI) get(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	job, err := jobs.Get(r.Context(), a.db, id)
	if err != nil {
		a.writeJobError(w, r, id, err)
		return
	}
	hist, err := jobs.History(r.Context(), a.db, id)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	ents, err := jobs.Entities(r.Context(), a.db, id)
	if err != nil {
		serverError(w, r, a.logger, err)
		return
	}
	v := importView{ID: job.ID, Queue: job.Queue, State: job.State, Stage: job.Stage, Attempt: job.Attempt, Args: job.Args,
		Results: job.Results, LastError: job.LastError, CreatedAt: job.CreatedAt, FinishedAt: job.FinishedAt,
		History: make([]eventView, len(hist))}
	for i, e := range hist {
		v.History[i] = eventView{At: e.At, Event: e.Event, Stage: e.Stage, Attempt: e.Attempt, Worker: e.Worker, Detail: e.Detail}
	}
	for _, e := range ents {
		if e.DeletedAt == nil {
			v.Entities += len(e.Keys)
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *importsAPI) cleanup(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	res, err := jobs.Cleanup(r.Context(), a.db, id, &jobs.CleanupOpts{Deleters: a.deleters, DryRun: r.URL.Query().Has("dry_run"), Actor: apiActor(r)})
	if err != nil {
		a.writeJobError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"deleted": res.Keys, "rows": res.Rows, "entries": res.Entries, "already_clean": res.AlreadyClean, "dry_run": r.URL.Query().Has("dry_run"),
	})
}

func (a *importsAPI) restart(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	var req struct {
		FromFirst bool `json:"from_first"`
	}
	if r.ContentLength != 0 && !decodeJSON(w, r, &req) {
		return
	}
	if err := jobs.Restart(r.Context(), a.db, id, &jobs.RestartOpts{FromFirst: req.FromFirst, Actor: apiActor(r)}); err != nil {
		a.writeJobError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "restarted": true})
}

// apiActor is who the job's history records as cleaning up or restarting
// it. This API has no sign-in, so the caller's address is all that is
// known; a service with one records the signed-in user.
func apiActor(r *http.Request) string { return "orders API, from " + r.RemoteAddr }

func (a *importsAPI) writeJobError(w http.ResponseWriter, r *http.Request, id int64, err error) {
	var se *jobs.StateError
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("import %d: not found", id))
	case errors.As(err, &se):
		writeError(w, http.StatusConflict, err)
	default:
		serverError(w, r, a.logger, err)
	}
}
