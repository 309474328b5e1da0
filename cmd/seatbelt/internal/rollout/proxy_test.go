package rollout

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestProxyMarksItsOwnErrors checks that the proxy's own errors carry
// ProxyErrorHeader and a replica's answer does not, whatever its status,
// and that every answer after a replica was picked names it.
func TestProxyMarksItsOwnErrors(t *testing.T) {
	replica := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the replica's own 502", http.StatusBadGateway)
	}))
	defer replica.Close()
	up, _ := url.Parse(replica.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down, _ := url.Parse("http://" + ln.Addr().String())
	_ = ln.Close() // nothing listens there now: dialing it fails

	tests := []struct {
		name    string
		targets []target
		status  int
		marked  bool
		body    string
		replica string // the replica the answer names
	}{
		{"NoReplicaInRotation", nil, http.StatusServiceUnavailable, true, "rollout proxy: no replica in rotation", ""},
		{"ReplicaUnreachable", []target{{url: down, name: "v1-1", version: "v1"}}, http.StatusBadGateway, true, "rollout proxy: dial tcp", "v1-1"},
		{"ReplicaAnswers", []target{{url: up, name: "v2-3", version: "v2"}}, http.StatusBadGateway, false, "the replica's own 502", "v2-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newProxy("", func() []target { return tt.targets })
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			resp, err := client.Get("http://" + p.addr() + "/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || (resp.Header.Get(ProxyErrorHeader) == "1") != tt.marked || !strings.HasPrefix(string(body), tt.body) {
				t.Errorf("%d %q, %s: %q; want %d, marked %t, %q", resp.StatusCode, body, ProxyErrorHeader, resp.Header.Get(ProxyErrorHeader), tt.status, tt.marked, tt.body)
			}
			if got := resp.Header.Get(ReplicaHeader); got != tt.replica || tt.replica != "" && resp.Header.Get(VersionHeader) != tt.replica[:2] {
				t.Errorf("answer names replica %q version %q, want %q", got, resp.Header.Get(VersionHeader), tt.replica)
			}
		})
	}
}
