package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// routes is the service's API. Later versions of the template grow it into
// versioned orders and bulk imports.
func routes(db *pgxpool.Pool, version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		var dbNow time.Time
		if err := db.QueryRow(r.Context(), "SELECT now()").Scan(&dbNow); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": version, "database_time": dbNow.UTC()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
