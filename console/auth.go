package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The session is a cookie signed with a key derived from Config.Token:
// changing the token signs everyone out. It holds the operator's name and
// its expiry, nothing secret.
const (
	cookiePrefix = "seatbelt_console_"
	maxNameLen   = 64
	csrfField    = "csrf"
	sessionSalt  = "seatbelt console session\x00"
)

// wrongTokenDelay is how long a sign-in with a wrong token waits before
// its answer.
const wrongTokenDelay = 500 * time.Millisecond

type session struct {
	Name    string
	Expires time.Time
	raw     string
}

// cookieName is the session cookie's name, one per token: cookies are not
// kept apart by port, so two consoles on one host (two port-forwards, say)
// would otherwise overwrite each other's sessions.
func (c *Console) cookieName() string {
	return cookiePrefix + c.sign("cookie")[:10]
}

// key is the HMAC key for sessions and CSRF tokens.
func (c *Console) key() []byte {
	k := sha256.Sum256([]byte(sessionSalt + c.cfg.Token))
	return k[:]
}

func (c *Console) sign(parts ...string) string {
	m := hmac.New(sha256.New, c.key())
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) newSession(name string) string {
	exp := strconv.FormatInt(c.cfg.Now().Add(c.cfg.SessionTTL).Unix(), 10)
	n := base64.RawURLEncoding.EncodeToString([]byte(name))
	return n + "." + exp + "." + c.sign("session", n, exp)
}

// session reads and checks the request's session cookie.
func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(c.sign("session", parts[0], parts[1]))) {
		return session{}, false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || c.cfg.Now().Unix() >= exp {
		return session{}, false
	}
	return session{Name: string(name), Expires: time.Unix(exp, 0), raw: ck.Value}, true
}

// csrfToken is the form field every action's form carries: bound to the
// session, so a page of another site cannot post one.
func (c *Console) csrfToken(r *http.Request) string {
	s, _ := r.Context().Value(ctxKey{}).(session)
	if s.raw == "" {
		return ""
	}
	return c.sign("csrf", s.raw)
}

func (c *Console) cookiePath() string { return c.cfg.Prefix + "/" }

// link returns the console's path p ("/jobs/1") under Config.Prefix.
func (c *Console) link(p string) string { return c.cfg.Prefix + p }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.servePage(w, r, func(w http.ResponseWriter, r *http.Request) error {
		if c.cfg.Token == "" {
			http.Redirect(w, r, c.link("/"), http.StatusSeeOther)
			return nil
		}
		return c.render(w, r, "login.html", "Sign in", map[string]string{"Next": safeNext(r.URL.Query().Get("next"))})
	})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	c.servePage(w, r, func(w http.ResponseWriter, r *http.Request) error {
		if c.cfg.Token == "" {
			return forbidden("this console is read-only and has no sign-in; start it with a token to enable actions")
		}
		if err := crossOrigin.Check(r); err != nil {
			return forbidden("cross-origin sign-in refused: %v", err)
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		token, name := r.PostFormValue("token"), strings.TrimSpace(r.PostFormValue("name"))
		if subtle.ConstantTimeCompare([]byte(token), []byte(c.cfg.Token)) != 1 {
			c.log.Warn("console: sign-in with a wrong token", "remote", r.RemoteAddr, "name", name)
			// A pause per wrong guess; the token's length does the rest.
			select {
			case <-time.After(wrongTokenDelay):
			case <-r.Context().Done():
			}
			return c.renderStatus(w, r, http.StatusUnauthorized, "login.html", "Sign in", map[string]string{"Next": safeNext(r.PostFormValue("next")), "Error": "That token is not this console's token.", "Name": name})
		}
		if msg := checkName(name); msg != "" {
			return c.renderStatus(w, r, http.StatusBadRequest, "login.html", "Sign in", map[string]string{"Next": safeNext(r.PostFormValue("next")), "Error": msg, "Name": name})
		}
		http.SetCookie(w, &http.Cookie{
			Name: c.cookieName(), Value: c.newSession(name), Path: c.cookiePath(),
			MaxAge: int(c.cfg.SessionTTL.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
		})
		c.log.Info("console: signed in", "operator", name, "remote", r.RemoteAddr)
		next := safeNext(r.PostFormValue("next"))
		if next == "" {
			next = "/"
		}
		http.Redirect(w, r, c.link(next), http.StatusSeeOther)
		return nil
	})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: "", Path: c.cookiePath(), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, c.link("/login"), http.StatusSeeOther)
	return nil
}

// checkName says what is wrong with an operator's name, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "Give your name: it is recorded with every action you take."
	case len(name) > maxNameLen:
		return "Your name is longer than 64 bytes; shorten it."
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "Your name has characters that cannot be printed; use letters, digits and spaces."
	}
	return ""
}

// safeNext keeps a redirect target inside the console: a path of its own,
// never another host.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return ""
	}
	return u.RequestURI()
}

// crossOrigin refuses a state-changing request a browser sends from
// another site (Sec-Fetch-Site, or Origin against Host).
var crossOrigin = http.NewCrossOriginProtection()

// page wraps a reading page: with a Token it needs a session, else the
// browser goes to the sign-in form and comes back.
func (c *Console) page(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.cfg.Token != "" {
			s, ok := c.session(r)
			if !ok {
				http.Redirect(w, r, c.link("/login?next="+url.QueryEscape(r.URL.RequestURI())), http.StatusSeeOther)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		}
		c.servePage(w, r, func(w http.ResponseWriter, r *http.Request) error {
			if err := checkInput(r.URL.Query()); err != nil {
				return err
			}
			return h(w, r)
		})
	})
}

// checkInput refuses a field PostgreSQL cannot take as text (a NUL byte,
// bytes that are not UTF-8) with a 400, before any page queries with it.
func checkInput(form url.Values) error {
	for k, vs := range form {
		for _, v := range append([]string{k}, vs...) {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return badRequest("the field %q holds a NUL byte or bytes that are not UTF-8; give text", k)
			}
		}
	}
	return nil
}

// action wraps a POST that changes something: it needs the Token's
// session, the session's CSRF field and a same-origin request.
func (c *Console) action(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.servePage(w, r, func(w http.ResponseWriter, r *http.Request) error {
			if c.cfg.Token == "" {
				return forbidden("this console is read-only: start it with a token (seatbelt console --token, or Config.Token) to enable actions")
			}
			s, ok := c.session(r)
			if !ok {
				return unauthorized("sign in first: your session is missing or expired")
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
			if err := crossOrigin.Check(r); err != nil {
				return forbidden("cross-origin request refused: %v", err)
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				return badRequest("the form cannot be read: %v", err)
			}
			if err := checkInput(r.Form); err != nil {
				return err
			}
			if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(c.csrfToken(r))) {
				return forbidden("the form's CSRF token is missing or stale; reload the page and try again")
			}
			return h(w, r)
		})
	})
}

// done redirects after an action to p with a message the page shows. The
// message is signed: a link someone else crafted with a msg of their own
// ("job 7 must be cleaned up now") shows nothing.
func (c *Console) done(w http.ResponseWriter, r *http.Request, p, msg string) error {
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	http.Redirect(w, r, c.link(p)+sep+"msg="+url.QueryEscape(msg)+"&sig="+c.sign("msg", msg), http.StatusSeeOther)
	return nil
}

// message is the action's message the request carries, if it is signed.
func (c *Console) message(r *http.Request) string {
	q := r.URL.Query()
	msg := q.Get("msg")
	if msg == "" || c.cfg.Token == "" || !hmac.Equal([]byte(q.Get("sig")), []byte(c.sign("msg", msg))) {
		return ""
	}
	return msg
}
