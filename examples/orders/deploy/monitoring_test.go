package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

const (
	alertsFile     = "prometheus/alerts.yaml"
	alertTestsFile = "prometheus/alerts_test.yaml"
	dashboardFile  = "grafana/orders.json"
)

// --- the files -------------------------------------------------------------

// ruleFile mirrors a Prometheus rule file; strict decoding refuses a
// misspelt key, which Prometheus would reject at load time.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// ruleTests mirrors the parts of a promtool test file this kit uses.
type ruleTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Name        string `json:"name"`
		Interval    string `json:"interval"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// dashboard mirrors what the tests read of the Grafana JSON; the rest is
// Grafana's business.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	var f ruleFile
	decode(t, alertsFile, &f)
	return f
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows, collapsed or not.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// query is one PromQL expression of the kit and where it is written.
type query struct {
	where, expr string
	// needLabel is a label the query reads from its metric's series without
	// a matcher, as label_values(metric, label) does.
	needLabel string
}

func alertQueries(t *testing.T) []query {
	var qs []query
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{where: "alert " + r.Alert, expr: r.Expr})
		}
	}
	return qs
}

var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

func dashboardQueries(t *testing.T) []query {
	d := readDashboard(t)
	var qs []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			qs = append(qs, query{where: fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID), expr: tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("variable %s: query is neither an object nor a string: %s", v.Name, v.Query)
			}
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: want label_values(metric, label), got %q", v.Name, q.Query)
		}
		qs = append(qs, query{where: "variable " + v.Name, expr: m[1], needLabel: m[2]})
	}
	return qs
}

// --- PromQL -----------------------------------------------------------------

// grafanaVar is a dashboard variable or one of Grafana's built-in intervals.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// expandGrafana replaces Grafana's variables with values PromQL accepts, so
// the real parser can read a panel's query.
func expandGrafana(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return "x"
	})
}

// metricRef is one metric a query reads and the labels it needs on it.
type metricRef struct {
	metric string
	labels []string // from matchers, grouping or vector matching
}

// labelNeed is a grouping or matching label: it must exist on at least one
// of the metrics under the expression that names it.
type labelNeed struct {
	label   string
	metrics []string
}

var promql = parser.NewParser(parser.Options{})

// promqlRefs parses expr with Prometheus's own parser and returns the metrics
// it selects, with the labels their matchers name, and the labels its
// aggregations and vector matchings group on.
func promqlRefs(expr string) ([]metricRef, []labelNeed, error) {
	root, err := promql.ParseExpr(expandGrafana(expr))
	if err != nil {
		return nil, nil, err
	}
	var refs []metricRef
	var needs []labelNeed
	var walkErr error
	parser.Inspect(root, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			r := metricRef{metric: n.Name}
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					if r.metric == "" && m.Type == labels.MatchEqual {
						r.metric = m.Value
					}
					continue
				}
				r.labels = append(r.labels, m.Name)
			}
			if r.metric == "" {
				walkErr = fmt.Errorf("selector %s names no metric", n)
			}
			refs = append(refs, r)
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				needs = append(needs, labelNeed{label: l, metrics: selectedMetrics(n.Expr)})
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range n.VectorMatching.MatchingLabels {
					needs = append(needs, labelNeed{label: l, metrics: selectedMetrics(n)})
				}
			}
		}
		return nil
	})
	return refs, needs, walkErr
}

func selectedMetrics(n parser.Node) []string {
	var out []string
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}

// targetLabels are added by Prometheus to every scraped series; the service
// does not export them.
var targetLabels = map[string]bool{"job": true, "instance": true}

// prometheusSeries are written by Prometheus itself for each target.
var prometheusSeries = map[string]bool{"up": true}

// --- the scrape ---------------------------------------------------------------

// exported maps each series name the service exposes (histogram buckets,
// sums and counts under their own names) to the label names seen on it.
type exported map[string]map[string]bool

func (e exported) add(name string, labels []*dto.LabelPair, extra ...string) {
	set := e[name]
	if set == nil {
		set = map[string]bool{}
		e[name] = set
	}
	for _, l := range labels {
		set[l.GetName()] = true
	}
	for _, l := range extra {
		set[l] = true
	}
}

// addFamilies records a scrape's families under the names PromQL sees.
func (e exported) addFamilies(fams map[string]*dto.MetricFamily) {
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				e.add(name+"_bucket", m.GetLabel(), "le")
				e.add(name+"_sum", m.GetLabel())
				e.add(name+"_count", m.GetLabel())
			case dto.MetricType_SUMMARY:
				e.add(name, m.GetLabel(), "quantile")
				e.add(name+"_sum", m.GetLabel())
				e.add(name+"_count", m.GetLabel())
			default:
				e.add(name, m.GetLabel())
			}
		}
	}
}

// problems lists every metric or label a query uses that e lacks.
func (e exported) problems(qs []query) []string {
	var out []string
	for _, q := range qs {
		refs, needs, err := promqlRefs(q.expr)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", q.where, err))
			continue
		}
		for _, r := range refs {
			if prometheusSeries[r.metric] {
				continue
			}
			have, ok := e[r.metric]
			if !ok {
				out = append(out, fmt.Sprintf("%s: metric %s is not exported by the service", q.where, r.metric))
				continue
			}
			need := slices.Clone(r.labels)
			if q.needLabel != "" {
				need = append(need, q.needLabel)
			}
			for _, l := range need {
				if !targetLabels[l] && !have[l] {
					out = append(out, fmt.Sprintf("%s: metric %s has no label %q (it has %s)", q.where, r.metric, l, keys(have)))
				}
			}
		}
		for _, n := range needs {
			if targetLabels[n.label] || !slices.ContainsFunc(n.metrics, func(m string) bool { return e[m] != nil }) {
				continue // a missing metric is reported once, above
			}
			found := false
			for _, m := range n.metrics {
				found = found || e[m][n.label]
			}
			if !found {
				out = append(out, fmt.Sprintf("%s: groups or matches on %q, which none of %v carries", q.where, n.label, n.metrics))
			}
		}
	}
	return out
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return "{" + strings.Join(ks, ", ") + "}"
}

func scrape(t *testing.T, probeAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + probeAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// --- the running service ------------------------------------------------------

// ordersService is a running orders binary on a fresh database.
type ordersService struct {
	url, httpAddr, probeAddr string
}

// buildOrders builds the service as the image would hold it.
func buildOrders(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orders")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build ../ (examples/orders): %v\n%s", err, out)
	}
	return bin
}

// startOrders runs "orders migrate" then "orders" on a fresh empty server,
// both on loopback ports, and returns once the service logs that it is ready.
func startOrders(t *testing.T, bin string) ordersService {
	t.Helper()
	// A primary with a streaming standby, which "orders migrate" holds as
	// the kit's migration Job does: the standby gauges then have a hold to
	// report.
	primary, standby := migtest.Standby(t)
	s := ordersService{url: primary}
	mig := exec.Command(bin, "migrate")
	mig.Env = append(os.Environ(), "DATABASE_URL="+s.url, "STANDBY_URL="+standby)
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("orders migrate: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.url, "HTTP_ADDR=127.0.0.1:0", "PROBE_ADDR=127.0.0.1:0",
		"OTEL_TRACES_EXPORTER=none", "SHUTDOWN_DELAY=0s", "VERSION=monitoring-test")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained
		_ = cmd.Wait()
		http.DefaultClient.CloseIdleConnections()
	})
	var logLines []string
	ready := false
	sc := bufio.NewScanner(out)
	for !ready && sc.Scan() {
		logLines = append(logLines, sc.Text())
		var rec map[string]any
		_ = json.Unmarshal(sc.Bytes(), &rec)
		addr, _ := rec["addr"].(string)
		switch rec["msg"] {
		case "graceful: probes listening":
			s.probeAddr = addr
		case "graceful: listening":
			s.httpAddr = addr
		case "graceful: ready":
			ready = true
		}
	}
	go func() {
		defer close(drained)
		for sc.Scan() {
		}
	}()
	if !ready || s.probeAddr == "" || s.httpAddr == "" {
		t.Fatalf("the service exited or never logged its addresses and readiness:\n%s\n%s", strings.Join(logLines, "\n"), stderr.String())
	}
	return s
}

// call sends a request to the API and returns the status and JSON body.
func (s ordersService) call(t *testing.T, method, path, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.httpAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// exercise makes the requests that give labelled series their first values:
// orders created, a stale update, a miss, an import that completes and one
// whose first stage fails (retries).
func (s ordersService) exercise(t *testing.T) {
	t.Helper()
	order := `{"customer":"c-1","items":[{"sku":"sku-1","qty":2,"price_cents":150}]}`
	code, created := s.call(t, "POST", "/orders", order)
	if code != http.StatusCreated {
		t.Fatalf("POST /orders: %d %v", code, created)
	}
	id, _ := created["id"].(string)
	if code, m := s.call(t, "PUT", "/orders/"+id, order, "If-Match", "7"); code != http.StatusConflict {
		t.Fatalf("PUT with a stale If-Match: %d %v, want 409", code, m)
	}
	if code, m := s.call(t, "GET", "/orders/missing", ""); code != http.StatusNotFound {
		t.Fatalf("GET a missing order: %d %v, want 404", code, m)
	}
	s.refuseOrdersOf(t, "c-3")
	for _, imp := range []string{`{"customer":"c-2","orders":25}`, `{"customer":"c-3","orders":5}`} {
		if code, m := s.call(t, "POST", "/imports", imp); code != http.StatusAccepted {
			t.Fatalf("POST /imports %s: %d %v, want 202", imp, code, m)
		}
	}
}

// refuseOrdersOf makes the database refuse new orders of customer, so an
// import of theirs fails its first stage on every attempt, the way a stage
// with a bug would.
func (s ordersService) refuseOrdersOf(t *testing.T, customer string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	literal := "'" + strings.ReplaceAll(customer, "'", "''") + "'" // DDL takes no parameters
	if _, err := conn.Exec(ctx, `ALTER TABLE eventlog_records ADD CONSTRAINT monitoring_test_refused
		CHECK (data->>'customer' IS DISTINCT FROM `+literal+`) NOT VALID`); err != nil {
		t.Fatalf("refusing the orders of %s: %v", customer, err)
	}
}

// editLedger makes migcheck's Verify report a checksum mismatch, the way an
// edited migration file would: seatbelt_migration_problems has a series only
// while Verify finds a problem.
func (s ordersService) editLedger(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE seatbelt_migration_ledger SET sha256 = 'edited' WHERE set_name = 'orders'`)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("editing the migration ledger: %v (%d rows)", err, tag.RowsAffected())
	}
}

// TestMonitoringUsesOnlyExportedMetrics runs the service, exercises it, and
// checks that every metric and label the alert rules and the dashboard read
// is in its /metrics. A renamed metric would otherwise leave a panel empty
// and an alert silent, which nobody notices until the night it matters.
func TestMonitoringUsesOnlyExportedMetrics(t *testing.T) {
	qs := append(alertQueries(t), dashboardQueries(t)...)
	if len(qs) < 40 {
		t.Fatalf("found only %d queries in the alerts and the dashboard", len(qs))
	}
	s := startOrders(t, buildOrders(t))
	s.exercise(t)
	s.editLedger(t)

	// Labelled series appear as the work happens (stages finish, the jobs
	// leader reports its gauges, retries are scheduled): scrape until every
	// query is satisfied or the deadline passes, then report what is missing.
	seen := exported{}
	var missing []string
	for deadline := time.Now().Add(45 * time.Second); ; {
		seen.addFamilies(scrape(t, s.probeAddr))
		if missing = seen.problems(qs); len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("%d uses of metrics the running service does not export:\n  %s", len(missing), strings.Join(missing, "\n  "))
		if slices.ContainsFunc(missing, func(m string) bool { return strings.Contains(m, "eventlog_consumer_") }) {
			t.Error("the eventlog_consumer_* metrics come from eventlog/eventlogprom: register eventlogprom.NewCollector(log, nil) on the service's registry in examples/orders/service.go")
		}
		if slices.ContainsFunc(missing, func(m string) bool { return strings.Contains(m, "seatbelt_jobs_") }) {
			t.Error("the seatbelt_jobs_* metrics come from jobs/jobsprom: register a jobsprom.NewCollector() on the service's registry and pass it as jobs.Config.Observer in examples/orders/service.go")
		}
	}
}

// TestExtractorFindsMetricsAndLabels pins the extraction the test above
// relies on, so a query it cannot read does not pass unchecked.
func TestExtractorFindsMetricsAndLabels(t *testing.T) {
	e := exported{}
	e.addFamilies(map[string]*dto.MetricFamily{
		"req_seconds": {Name: ptr("req_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(),
			Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: ptr("route"), Value: ptr("/orders")}}}}},
		"ready": {Name: ptr("ready"), Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{}}},
	})
	for _, c := range []struct {
		expr string
		want string // a substring of the one problem expected, "" for none
	}{
		{`histogram_quantile(0.9, sum by (le, route) (rate(req_seconds_bucket{job="$job"}[$__rate_interval])))`, ""},
		{`sum(rate(req_seconds_count[5m])) / sum(rate(req_seconds_sum[5m]))`, ""},
		{`ready == 0 and on (instance) up == 1`, ""},
		{`rate(req_seconds[5m])`, "metric req_seconds is not"},
		{`sum by (code) (rate(req_seconds_count[5m]))`, `groups or matches on "code"`},
		{`req_seconds_count{status="500"}`, `has no label "status"`},
		{`{__name__="ready_total"}`, "metric ready_total is not"},
		{`sum(rate(req_seconds_count[5m]`, "parse error"},
	} {
		got := e.problems([]query{{where: "q", expr: c.expr}})
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s: unexpected %v", c.expr, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
			t.Errorf("%s: got %v, want one problem with %q", c.expr, got, c.want)
		}
	}
}

func ptr(s string) *string { return &s }

// promtool itself (check rules, test rules) runs in .ci/run and in the
// template's CI workflow, not here: `go test ./...` needs only Go and
// PostgreSQL. The Go tests above parse every expression with Prometheus' own
// PromQL parser.

// TestEveryAlertIsActionableAndTested checks what promtool does not: each
// alert waits before firing, says how bad it is and what to do, and has a
// unit test where it fires and one where it stays quiet.
func TestEveryAlertIsActionableAndTested(t *testing.T) {
	var tests ruleTests
	decode(t, alertTestsFile, &tests)
	if !slices.Equal(tests.RuleFiles, []string{filepath.Base(alertsFile)}) {
		t.Fatalf("%s tests %v, want %s", alertTestsFile, tests.RuleFiles, filepath.Base(alertsFile))
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	names := map[string]bool{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a recording rule or a rule with no name", g.Name)
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			names[r.Alert] = true
			if d, err := model.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("alert %s: for %q; every alert waits a while before it fires", r.Alert, r.For)
			}
			if s := r.Labels["severity"]; s != "page" && s != "ticket" {
				t.Errorf("alert %s: severity %q, want page or ticket", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, a)
				}
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s has no unit test where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("alert %s has no unit test where it stays quiet", r.Alert)
			}
		}
	}
	for name := range fires {
		if !names[name] {
			t.Errorf("%s tests alert %s, which alerts.yaml does not define", alertTestsFile, name)
		}
	}
}

func TestDashboardIsValid(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Fatalf("dashboard uid %q, title %q, schemaVersion %d: want all set, schema 36 or newer", d.UID, d.Title, d.SchemaVersion)
	}
	hasDatasourceVar := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasDatasourceVar = true
		}
	}
	if !hasDatasourceVar {
		t.Fatal("no datasource variable of type prometheus: the dashboard would be bound to one Grafana's data source uid")
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	cells := map[cell]string{}
	panels := allPanels(d.Panels)
	for _, p := range panels {
		if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
			t.Errorf("panel %q has id %d, already used by %q (or not positive)", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v is outside the 24-column grid", p.ID, p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, taken := cells[cell{x, y}]; taken {
					t.Fatalf("panel %d %q overlaps %q at column %d, row %d", p.ID, p.Title, other, x, y)
				}
				cells[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				t.Errorf("row %q has queries; rows only group panels", p.Title)
			}
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no targets", p.ID, p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %d %q does not use the datasource variable", p.ID, p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %d %q: target %q has no expression, or no or a repeated refId", p.ID, p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %d %q target %s does not use the datasource variable", p.ID, p.Title, tg.RefID)
			}
		}
	}
	// Every query must parse; the metric names are checked against the
	// running service by TestMonitoringUsesOnlyExportedMetrics.
	for _, q := range dashboardQueries(t) {
		if _, _, err := promqlRefs(q.expr); err != nil {
			t.Errorf("%s: %v", q.where, err)
		}
	}
	// The sections the issue asks for.
	var titles []string
	for _, p := range panels {
		titles = append(titles, strings.ToLower(p.Title))
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"by route", "pool", "jobs by state", "consumer lag", "ready", "shutdown", "goroutines", "cpu"} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel title mentions %q", want)
		}
	}
}
