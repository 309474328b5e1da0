// Package libdeps holds one test: a service that imports every library
// package of seatbelt resolves none of the modules that only the CLI, the
// example's deploy kit and the benchmarks need (River, pgtestdb, Kubernetes,
// the Prometheus server, cobra). Those live in modules of their own
// (cmd/seatbelt, examples/orders, internal/bench), tied together by go.work.
package libdeps
