// Package rollout is a local stand-in for a Kubernetes rolling update, for
// tests and the demo (production uses the manifests in
// examples/orders/deploy).
//
// A [Cluster] runs replicas of a service binary on loopback ports behind a
// reverse proxy. Like a Service's endpoints, the proxy routes only to
// replicas whose /readyz passed at the last poll, and a change reaches the
// routing table only after a propagation delay. [Cluster.Rollout] replaces
// every replica the way a Deployment with maxSurge 1 and maxUnavailable 0
// does: start a new replica, wait until it is in rotation, take an old one
// out of rotation, wait for the change to propagate, send it SIGTERM, and
// SIGKILL it if it outlives the grace period. [Cluster.KillRandom] sends
// SIGKILL to a random replica, as a node failure would.
//
// Each replica gets HTTP_ADDR and PROBE_ADDR on free loopback ports, plus
// the environment the caller gives; its output goes to the configured
// writer, prefixed with the replica's name.
package rollout
