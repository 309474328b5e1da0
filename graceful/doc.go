// Package graceful runs a service's main so that a deploy, a crash or a
// restart at any moment is boring: it serves the Kubernetes probes, waits
// for its startup gates before reporting ready, and on SIGTERM takes the
// service out of rotation before it stops listening, drains requests in
// flight, stops background work and runs stop hooks, all within a budget
// that ends before the kubelet's SIGKILL would.
//
// # Use
//
// Wrap main in [Run] and register the service's parts on the [App]:
//
//	func main() {
//		graceful.Run(func(ctx context.Context, app *graceful.App) error {
//			db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//			if err != nil {
//				return err
//			}
//			app.OnStop("close database", func(context.Context) error { db.Close(); return nil })
//			app.StartupGate("migrations", verifier.Check)
//			app.ReadinessCheck("database", db.Ping)
//			app.Go("worker", worker.Run)
//			return app.Serve(&http.Server{Addr: ":8080", Handler: mux})
//		}, nil)
//	}
//
// Main wires the service and returns; Run keeps it running. Tests use
// [RunContext], which returns instead of exiting.
//
// # Startup
//
// The probe server (Config.ProbeAddr, ":8081") starts first: /livez answers
// 200 from then on. After main returns, the startup gates run in order, each
// retried with backoff until it passes; only then do the HTTP servers serve
// and the background loops start, and /startupz and /readyz answer 200. A
// gate that does not pass within Config.StartupTimeout stops the service,
// running the stop hooks main had registered, and the process exits 1.
// Every probe answers JSON with each check's state when asked ?verbose.
//
// # HTTP servers
//
// A server given to [App.Serve] gets each timeout it leaves at zero, which
// net/http reads as "no limit": Config.ReadHeaderTimeout (10 s for the
// headers), Config.ReadTimeout (30 s for the whole request, body included)
// and Config.IdleTimeout (2 minutes for a keep-alive connection between
// requests). Without them, clients that send slowly or keep connections
// idle hold a connection and a goroutine each for as long as they like.
// Serve logs the ones it set. A server that truly wants no limit sets its
// field negative (net/http's "no limit"); [None] in a Config field leaves
// every server's zero alone.
//
// # Durations
//
// A zero Config duration always means its default. Where "none" makes sense
// (ShutdownDelay and the three server timeouts) the field takes [None]; any
// other negative value, and None in any other field, makes [Run] refuse the
// config with an error matching [ErrInvalidConfig] that names the field and
// what to set.
//
// # Stopping
//
// On the first SIGTERM or SIGINT (or [App.Stop], or a cancelled context):
//
//  1. /readyz answers 503 at once; /livez stays 200 until exit.
//  2. The servers keep accepting and serving for Config.ShutdownDelay, the
//     time endpoints and load balancers need to stop sending traffic.
//  3. The listeners close and requests in flight get Config.DrainTimeout to
//     finish; then their contexts are cancelled so handlers can unwind.
//  4. Background loops' contexts are cancelled; the stop waits for them.
//  5. Stop hooks run in reverse order of registration, each within its own
//     timeout; all run even when one fails, and their errors are joined.
//
// A second signal exits at once with 128 + the signal number. If the whole
// stop takes longer than Config.StopTimeout the process exits 1 and logs by
// name what was still running. See [ExitCode] for every exit code.
//
// # Kubernetes
//
// The defaults fit a pod with the default terminationGracePeriodSeconds of
// 30: ShutdownDelay 5 s + DrainTimeout 15 s + HookTimeout 5 s fit in a
// StopTimeout of 28 s, which leaves the kubelet 2 s before SIGKILL. When you
// change them, keep
//
//	ShutdownDelay + DrainTimeout + HookTimeout <= StopTimeout < terminationGracePeriodSeconds
//
// ([Run] refuses a config that breaks the first inequality, naming the
// fields). Either let ShutdownDelay do the waiting for endpoint propagation,
// or use a preStop hook (sleep) and set ShutdownDelay to [None]; the grace
// period counts from the start of preStop, so add the preStop pause to the
// sum. Point the probes at the probe port:
//
//	startupProbe:   httpGet /startupz, periodSeconds 2, failureThreshold covering StartupTimeout
//	readinessProbe: httpGet /readyz,   periodSeconds 2, failureThreshold 1
//	livenessProbe:  httpGet /livez,    periodSeconds 10, failureThreshold 3
//
// and roll out with maxUnavailable 0 and maxSurge 1, so old pods serve until
// the new one reports ready.
//
// # Logs
//
// Each phase logs one line through Config.Logger: "graceful: ready" (with
// the startup time), "graceful: shutdown started" (with the signal or
// reason), "graceful: not ready", "graceful: draining" (with the number of
// requests in flight), "graceful: drained" and "graceful: stopped" (with
// durations), "graceful: server timeouts defaulted" (which timeouts Serve
// set on a server), and warnings for a gate not passed yet, a drain timeout
// or an exhausted stop budget.
package graceful
