package migprom_test

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migprom"
)

func ExampleNewCollector() {
	var pool *pgxpool.Pool // the service's pool
	var app migcheck.Set   // the service's migrations
	register := func() error {
		m, err := migcheck.New(pool, nil, app)
		if err != nil {
			return err
		}
		col, err := migprom.NewCollector(m, nil)
		if err != nil {
			return err
		}
		return prometheus.DefaultRegisterer.Register(col)
	}
	_ = register
}
