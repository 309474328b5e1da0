// Package riverpeer runs River (github.com/riverqueue/river), the reference
// Go/PostgreSQL job queue, as the peer of `go run ./internal/bench jobs`: the same
// burn-down and latency measurements as the seatbelt side, on a database of
// its own, with River tuned as its own benchmark tunes it (2,000 workers, a
// 2 ms fetch cooldown, a 20 ms poll interval).
//
// Only the benchmark imports this package; no library package may, so River
// never becomes a dependency of a service that uses seatbelt.
//
//	if err := riverpeer.Migrate(ctx, pool); err != nil { ... }
//	took, err := riverpeer.BurnDown(ctx, pool, 20000)
package riverpeer
