package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/metrics"
)

// The route label is the ServeMux pattern; URLs no pattern matches share the
// label "unmatched", so scanners cannot blow up the series count.
func ExampleHTTPServer_Middleware() {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewHTTPServer(&metrics.HTTPConfig{Registerer: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {})
	handler := m.Middleware(mux) // tracing.Middleware(handler, nil) may wrap this

	for _, path := range []string{"/orders/1", "/orders/2", "/.env", "/wp-login.php"} {
		handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	printSeries(reg, "http_server_requests_total")
	// Output:
	// http_server_requests_total{code=200,method=GET,route=/orders/{id}} 2
	// http_server_requests_total{code=404,method=GET,route=unmatched} 2
}

// Transport measures calls to other services by host, method and code.
func ExampleHTTPClient_Transport() {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewHTTPClient(&metrics.HTTPConfig{Registerer: reg})
	if err != nil {
		fmt.Println(err)
		return
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer upstream.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: m.Transport(tr)}
	resp, err := client.Post(upstream.URL+"/charge", "application/json", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()

	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "http_client_requests_total" {
			for _, l := range f.GetMetric()[0].GetLabel() {
				if l.GetName() != "host" { // the test server's port varies
					fmt.Println(l.GetName(), l.GetValue())
				}
			}
		}
	}
	// Output:
	// code 202
	// method POST
}
