package metrics

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHTTPClientTransport(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewHTTPClient(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer upstream.Close()
	// A port nobody listens on: the connection is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: m.Transport(tr)}
	for _, u := range []string{upstream.URL + "/ok", upstream.URL + "/ok", upstream.URL + "/busy", "http://" + dead + "/x"} {
		resp, err := client.Get(u)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	host := mustHost(t, upstream.URL)
	fams, _ := scrape(t, reg)
	if got := find(t, fams, "http_client_requests_total", map[string]string{"host": host, "method": "GET", "code": "200"}).GetCounter().GetValue(); got != 2 {
		t.Errorf("200s = %v, want 2", got)
	}
	if got := find(t, fams, "http_client_requests_total", map[string]string{"host": host, "code": "503"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("503s = %v, want 1", got)
	}
	if got := find(t, fams, "http_client_errors_total", map[string]string{"host": dead, "method": "GET"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("refused connections = %v, want 1", got)
	}
	if got := find(t, fams, "http_client_request_duration_seconds", map[string]string{"host": host}).GetHistogram().GetSampleCount(); got != 3 {
		t.Errorf("timed upstream requests = %v, want 3", got)
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
