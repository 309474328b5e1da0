package console_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/console"
)

func TestReadOnlyConsoleHasNoSignInAndNoActions(t *testing.T) {
	t.Parallel()
	s := serve(t, newDB(t), nil)
	body := s.mustGet("/")
	for _, want := range []string{"seatbelt console", "read-only", `href="/jobs"`, `href="/events"`, `href="/schema"`, `href="/deploys"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	if strings.Contains(body, `name="csrf"`) {
		t.Error("a read-only console renders an action form")
	}
	code, body, _ := s.post("/logout", url.Values{})
	if code != http.StatusForbidden || !strings.Contains(body, "read-only") {
		t.Errorf("an action on a read-only console: %d, want 403 saying read-only\n%s", code, body)
	}
	if code, _, _ := s.get("/nope"); code != http.StatusNotFound {
		t.Errorf("an unknown page: %d, want 404", code)
	}
}

func TestSignInGuardsPagesAndActions(t *testing.T) {
	t.Parallel()
	s := serve(t, newDB(t), &console.Config{Token: testToken, Prefix: "/console"})

	code, _, loc := s.get("/jobs?state=failed")
	if code != http.StatusSeeOther || loc != "/console/login?next="+url.QueryEscape("/jobs?state=failed") {
		t.Fatalf("a page without a session: %d to %q, want 303 to the sign-in", code, loc)
	}
	code, body, _ := s.post("/login", url.Values{"token": {"wrong-token-wrong-token"}, "name": {"ana"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "not this console&#39;s token") {
		t.Fatalf("a wrong token: %d, want 401 saying so\n%s", code, body)
	}
	code, body, _ = s.post("/login", url.Values{"token": {testToken}, "name": {""}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Give your name") {
		t.Fatalf("no name: %d, want 400 asking for it\n%s", code, body)
	}
	code, _, loc = s.post("/login", url.Values{"token": {testToken}, "name": {"ana"}, "next": {"/jobs?state=failed"}})
	if code != http.StatusSeeOther || loc != "/console/jobs?state=failed" {
		t.Fatalf("sign-in: %d to %q, want 303 back to the page asked for", code, loc)
	}
	code, _, loc = s.post("/login", url.Values{"token": {testToken}, "name": {"ana"}, "next": {"//evil.example/x"}})
	if code != http.StatusSeeOther || loc != "/console/" {
		t.Fatalf("sign-in with a foreign next: %d to %q, want 303 to /console/", code, loc)
	}
	body = s.mustGet("/")
	if !strings.Contains(body, `<span id="operator">ana</span>`) {
		t.Fatalf("the signed-in page does not name the operator:\n%s", body)
	}

	// An action without the CSRF field, or from another site, is refused.
	if code, body, _ := s.post("/logout", url.Values{}); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("an action without the CSRF field: %d, want 403\n%s", code, body)
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the signed-in page has no CSRF field")
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/console/logout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := read(t, resp); code != http.StatusForbidden {
		t.Fatalf("a cross-site action: %d, want 403", code)
	}
	if code, _, loc := s.act("/", "/logout", nil); code != http.StatusSeeOther || loc != "/console/login" {
		t.Fatalf("sign-out: %d to %q", code, loc)
	}
	if code, _, _ := s.get("/"); code != http.StatusSeeOther {
		t.Fatalf("a page after sign-out: %d, want 303 to the sign-in", code)
	}
}

func TestForgedOrExpiredSessionIsRefused(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	s := serve(t, db, &console.Config{Token: testToken})
	u, _ := url.Parse(s.srv.URL)
	s.client.Jar.SetCookies(u, []*http.Cookie{{Name: console.CookieName(s.c), Value: "YW5h.99999999999.forged"}})
	if code, _, _ := s.get("/"); code != http.StatusSeeOther {
		t.Fatalf("a forged session: %d, want 303 to the sign-in", code)
	}
	// A session signed by a console with another token does not open this one.
	other := serve(t, db, &console.Config{Token: "another-token-another-token"})
	code, _, _ := other.post("/login", url.Values{"token": {"another-token-another-token"}, "name": {"eve"}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in to the other console: %d", code)
	}
	ou, _ := url.Parse(other.srv.URL)
	theirs := other.client.Jar.Cookies(ou)
	if len(theirs) != 1 {
		t.Fatalf("the other console set %d cookies, want its session", len(theirs))
	}
	// Under this console's cookie name, as a browser would send it if the
	// names were the same.
	s.client.Jar.SetCookies(u, []*http.Cookie{{Name: console.CookieName(s.c), Value: theirs[0].Value}})
	if code, _, _ := s.get("/"); code != http.StatusSeeOther {
		t.Fatalf("another console's session: %d, want 303 to the sign-in", code)
	}
}

func TestConfigIsChecked(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, tc := range []struct {
		cfg  console.Config
		want string
	}{
		{console.Config{Prefix: "console"}, "Prefix"},
		{console.Config{Prefix: "/console/"}, "Prefix"},
		{console.Config{Token: "short"}, "at least 16"},
		{console.Config{TraceURL: "https://tempo.example/trace/"}, "{trace_id}"},
		{console.Config{SessionTTL: -1}, "SessionTTL"},
	} {
		_, err := console.New(db, &tc.cfg)
		if !errors.Is(err, console.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrInvalidConfig naming %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := console.New(nil, nil); !errors.Is(err, console.ErrInvalidConfig) {
		t.Errorf("a nil pool: %v", err)
	}
}

func TestBadBytesInAFieldAre400(t *testing.T) {
	t.Parallel()
	s := serve(t, newDB(t), &console.Config{Token: testToken})
	s.signIn("ana")
	for _, p := range []string{"/jobs?kind=%00", "/jobs?kind=%FF", "/events/writers?writer=%00&since=2026-01-01T00:00:00Z", "/jobs?%FF=1"} {
		code, body, _ := s.get(p)
		if code != http.StatusBadRequest || !strings.Contains(body, "NUL byte or bytes that are not UTF-8") {
			t.Errorf("GET %s: %d, want 400 saying what is wrong\n%s", p, code, body)
		}
	}
	if code, body, _ := s.act("/", "/logout", url.Values{"x": {"\x00"}}); code != http.StatusBadRequest {
		t.Errorf("an action with a NUL byte in a field: %d, want 400\n%s", code, body)
	}
}

// Only the console's own messages after an action show: a crafted link's
// msg does not.
func TestACraftedMessageIsNotShown(t *testing.T) {
	t.Parallel()
	s := serve(t, newDB(t), &console.Config{Token: testToken})
	s.signIn("ana")
	if body := s.mustGet("/?msg=" + url.QueryEscape("Job 7 must be cleaned up now") + "&sig=x"); strings.Contains(body, "must be cleaned up") {
		t.Fatal("a crafted msg shows on the page")
	}
}
