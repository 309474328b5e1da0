package metrics_test

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// printSeries prints the counter and gauge series (and histogram counts) of
// the families whose names start with prefix, sorted, one per line.
func printSeries(g prometheus.Gatherer, prefix string) {
	fams, err := g.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			var v string
			switch {
			case m.Histogram != nil:
				v = fmt.Sprintf("count=%d", m.GetHistogram().GetSampleCount())
			case m.Counter != nil:
				v = fmt.Sprint(m.GetCounter().GetValue())
			default:
				v = fmt.Sprint(m.GetGauge().GetValue())
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %s", f.GetName(), strings.Join(ls, ","), v))
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}
