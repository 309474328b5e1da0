package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// The template mounts the operator console on its probe port when
// CONSOLE_TOKEN is set, behind a sign-in with it.
func TestConsoleOnTheProbePort(t *testing.T) {
	t.Parallel()
	dbURL := migtest.NewURL(t)
	direct := "DATABASE_DIRECT_URL=" + migtest.DirectURL(dbURL)
	bin := buildOrders(t)
	if out, err := runWithEnv(bin, []string{"migrate"}, "DATABASE_URL="+dbURL, direct); err != nil {
		t.Fatalf("orders migrate: %v\n%s", err, out)
	}
	const token = "console-token-of-the-test"
	svc := startService(t, bin, "DATABASE_URL="+dbURL, direct, "CONSOLE_TOKEN="+token)
	api := &testBundle{url: "http://" + svc.http}
	code, m, _ := api.call(t, "POST", "/imports", `{"customer":"ops","orders":3}`)
	if code != 202 {
		t.Fatalf("POST /imports: %d %v", code, m)
	}
	id := jsonID(m["id"])

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + svc.probe + "/console"
	resp, err := client.Get(base + "/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Fatalf("the console without a sign-in: %d to %q, want 303 to /console/login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.PostForm(base+"/login", url.Values{"token": {token}, "name": {"oncall"}, "next": {"/jobs/" + id}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/jobs/"+id {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, body := get(t, client, base+"/jobs/"+id)
	if code != http.StatusOK {
		t.Fatalf("the job page: %d\n%s", code, body)
	}
	if !strings.Contains(body, "import") || !strings.Contains(body, "oncall") {
		t.Fatalf("the job page does not show the import job and the operator:\n%s", body)
	}
	for _, p := range []string{"/schema", "/events"} {
		if code, b := get(t, client, base+p); code != http.StatusOK {
			t.Fatalf("GET /console%s: %d\n%s", p, code, b)
		}
	}
	svc.stop(t)
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
