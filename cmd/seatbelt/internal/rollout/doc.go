// Package rollout is a local stand-in for a Kubernetes rolling update, for
// tests and the demo (production uses the manifests in
// examples/orders/deploy).
//
// A [Cluster] runs replicas of a service binary on loopback ports behind a
// reverse proxy. Like a Service's endpoints, the proxy routes only to
// replicas whose /readyz passed at the last poll, and a change reaches the
// routing table only after a propagation delay. [Cluster.Rollout] replaces
// every replica the way a Deployment with maxSurge 1 and maxUnavailable 0
// does: start a new replica, wait until it is in rotation, then send an old
// one SIGTERM while its removal from rotation propagates (so a service
// that stops serving at once on SIGTERM drops the requests routed to it
// meanwhile, as it would behind a Kubernetes Service), and SIGKILL it if
// it outlives the grace period. [Cluster.KillRandom] sends SIGKILL to a
// random replica, as a node failure would. A replica that exits on its own
// is started again after a delay, as the kubelet restarts a container, and
// counted ([Cluster.Restarts]), as are failed readiness polls of replicas
// in rotation ([Cluster.ProbeFailures]).
//
// Each replica gets HTTP_ADDR and PROBE_ADDR on free loopback ports, plus
// the environment the caller gives; its output goes to the configured
// writer, prefixed with the replica's name.
package rollout
