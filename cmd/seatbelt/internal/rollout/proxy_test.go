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
// ProxyErrorHeader and a replica's answer does not, whatever its status.
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
		targets []*url.URL
		status  int
		marked  bool
		body    string
	}{
		{"NoReplicaInRotation", nil, http.StatusServiceUnavailable, true, "rollout proxy: no replica in rotation"},
		{"ReplicaUnreachable", []*url.URL{down}, http.StatusBadGateway, true, "rollout proxy: dial tcp"},
		{"ReplicaAnswers", []*url.URL{up}, http.StatusBadGateway, false, "the replica's own 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newProxy("", func() []*url.URL { return tt.targets })
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
		})
	}
}
