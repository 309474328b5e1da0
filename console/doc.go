// Package console is a web page for operators: jobs, the event log, the
// schema and the deploy schedule, read without typing SQL when woken at
// 4:45 AM.
//
// Handler returns an http.Handler a service mounts on its probe or admin
// port; seatbelt console serves the same pages from the CLI. Pages are
// rendered on the server from html/template with embedded static files, so
// they read without JavaScript and need no build step.
//
// # Safety
//
// Without Config.Token the console only reads. With one, every page needs a
// sign-in (the token and the operator's name), and the actions appear:
// cancel, clean up and restart a job, revert a stream or everything a build
// wrote. Each action records the operator's name: in the job's history or on
// the event log's revert records. The session is a signed cookie
// (HttpOnly, SameSite=Strict); an action also needs the session's CSRF form
// field and a same-origin request (net/http's CrossOriginProtection).
// Bind the listener to localhost or an internal port: the console is for
// operators, not the internet.
package console
