package rollout

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// proxy plays the Service: round-robin over the replicas in rotation, and no
// retries, so a request that fails because of a deploy shows as a failure.
type proxy struct {
	srv  *http.Server
	ln   net.Listener
	next atomic.Uint64
}

type targetKey struct{}

// ProxyErrorHeader is set on the proxy's own error responses, so a client
// can tell the proxy failing to reach a replica from a replica's answer.
const ProxyErrorHeader = "Rehearse-Proxy-Error"

// ReplicaHeader and VersionHeader name, on every answer the proxy passes on
// or makes after picking a replica, the replica and its version: what
// tells a failure of the old build from one of the new.
const (
	ReplicaHeader = "Rehearse-Replica"
	VersionHeader = "Rehearse-Version"
)

// target is a replica the proxy may route to.
type target struct {
	url           *url.URL
	name, version string
}

func (t *target) label(h http.Header) {
	if t.name != "" {
		h.Set(ReplicaHeader, t.name)
		h.Set(VersionHeader, t.version)
	}
}

func newProxy(addr string, routable func() []target) (*proxy, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rollout: proxy: listen on %s: %w", addr, err)
	}
	p := &proxy{ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(targetKey{}).(*target).url)
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Request.Context().Value(targetKey{}).(*target).label(resp.Header)
			return nil
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			r.Context().Value(targetKey{}).(*target).label(w.Header())
			w.Header().Set(ProxyErrorHeader, "1")
			http.Error(w, "rollout proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			targets := routable()
			if len(targets) == 0 {
				w.Header().Set(ProxyErrorHeader, "1")
				http.Error(w, "rollout proxy: no replica in rotation", http.StatusServiceUnavailable)
				return
			}
			t := targets[int(p.next.Add(1)%uint64(len(targets)))]
			rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, &t)))
		}),
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() error { return p.srv.Close() }
