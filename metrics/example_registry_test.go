package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/seatbelt-go/seatbelt/metrics"
)

// A service makes one registry, registers its metrics on it and serves it on
// the probe port (graceful.Config.Metrics mounts it at /metrics).
func ExampleNewRegistry() {
	reg := metrics.NewRegistry()
	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "go_build_info"} {
		fmt.Println(name, strings.Contains(string(body), "\n"+name))
	}
	// Output:
	// go_goroutines true
	// process_cpu_seconds_total true
	// go_build_info true
}
