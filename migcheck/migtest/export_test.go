package migtest

import "github.com/seatbelt-go/seatbelt/internal/pglocal"

// SetFindOptions makes the next search for a server (at the first New, or
// the first after Close) use opts; nil is the search for tests.
func SetFindOptions(opts *pglocal.Options) {
	mu.Lock()
	defer mu.Unlock()
	findOptions = opts
}
