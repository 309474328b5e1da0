package rollout

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"
)

// BenchmarkProxy measures what the proxy adds to a request: the same small
// GET sent straight to a server and through the proxy, one at a time over
// kept-alive connections. p50-µs and p99-µs are per request.
func BenchmarkProxy(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":"o-1","version":3}`)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	p, err := newProxy("127.0.0.1:0", func() []target { return []target{{url: u}} })
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	for _, bc := range []struct{ name, url string }{{"direct", srv.URL}, {"proxy", "http://" + p.addr()}} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				resp, err := client.Get(bc.url + "/orders/o-1")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
