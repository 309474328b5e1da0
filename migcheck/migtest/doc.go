// Package migtest gives each test its own PostgreSQL database, already
// migrated, in a few milliseconds.
//
//	func TestOrders(t *testing.T) {
//		t.Parallel()
//		db := migtest.New(t, orders.Migrations, eventlog.Migrations)
//		// db is a *pgxpool.Pool on a database no other test sees.
//	}
//
// # How it is fast
//
// The sets are applied once per content hash (set names, tables and file
// checksums) into a template database, migtest_tpl_<hash>. Parallel test
// binaries build it once: the build runs under an advisory lock, in a
// scratch database renamed into place when complete.
//
// Cloning a template (CREATE DATABASE ... TEMPLATE) costs 25 to 130 ms on a
// small machine, so migtest clones ahead of demand: [Ready] clones per
// template wait on the server, named migtest_r_<hash>_*. [New] claims one by
// renaming it (a rename succeeds for one caller only, so parallel processes
// never share a database), then clones one replacement in the background
// while the test runs. The test's cleanup waits for that replacement, so no
// goroutine outlives a test (goleak stays quiet). When more tests start at
// once than clones are ready, the extra ones clone inline, and each of those
// grows the stock by one, up to Ready. Ready clones outlive the
// test binary and serve the next run.
//
// # At the end
//
// A passing test's database is dropped. A failing test's database is kept and
// its URL logged, so the data can be inspected with psql.
//
// The server is the one internal/pglocal finds: TEST_DATABASE_URL, else
// the local default, else a throwaway cluster that migtest starts from the
// installed PostgreSQL binaries. [Close] stops that cluster; run it after the
// tests from TestMain, with [Closing] beside goleak's check:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(migtest.Closing(m)) }
//
// Without it a throwaway cluster outlives the test binary. Close leaves a
// server it did not start as it is.
//
// Templates of migrations that no longer exist stay on the server; remove
// them with DROP DATABASE after ALTER DATABASE ... IS_TEMPLATE false, or
// drop every database named migtest_*.
package migtest
