// Command login shows logging in with session renewal and "remember me",
// and an "active sessions" page: a user sees where they are logged in and
// until when, and can end any one of those sessions, all the others, or all
// of them at once. A home page left open learns within a second or so that
// its session ended elsewhere, through a server-sent-events stream.
//
//	go run ./examples/login -addr localhost:8081
//
// Log in as alice or bob; the login page shows the passwords.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"time"

	"github.com/sessionid/session"
)

// demoUsers maps the demo's users to their passwords. DEMO ONLY: a real
// application keeps password hashes (argon2id, bcrypt) in a database, never
// passwords in its source, let alone on its login page.
var demoUsers = map[string]string{
	"alice": "alice-demo-password",
	"bob":   "bob-demo-password",
}

// checkPassword reports whether password is user's. It compares hashes, so
// that neither the password's length nor whether user exists shows in the
// time it takes.
func checkPassword(user, password string) bool {
	want, known := demoUsers[user]
	got, exp := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1 && known
}

// A remembered login lasts up to 30 days unused and 90 days in all; other
// sessions keep the defaults (30 minutes idle, 12 hours in all) and a
// cookie that ends with the browser.
const (
	rememberIdle     = 30 * 24 * time.Hour
	rememberAbsolute = 90 * 24 * time.Hour
)

// recheckEvery is how often the event stream asks whether its session lives.
const recheckEvery = time.Second

func newManager() (*session.Manager, error) {
	return session.New(session.WithRememberMe(rememberIdle, rememberAbsolute))
}

var page = template.Must(template.New("").Parse(`
{{define "time"}}<time datetime="{{.Format "2006-01-02T15:04:05Z07:00"}}">{{.Format "Jan 2 15:04"}}</time>{{end}}
{{define "token"}}<input type="hidden" name="csrf" value="{{.}}">{{end}}
{{define "flash"}}{{with .}}<p role="status" id="flash">{{.}}</p>{{end}}{{end}}
{{define "home"}}<!doctype html><title>Login demo</title>
{{template "flash" .Flash}}
{{if .User}}<p>Logged in as <b id="user">{{.User}}</b>{{if .Remembered}}, remembered on this device{{end}}.
This session ends {{template "time" .Expires}} unless you use it again.</p>
<p id="live">Connecting…</p>
<p><a href="/sessions">Active sessions</a></p>
<form method="post" action="/logout">{{template "token" .CSRF}}<button>Log out</button></form>
<form method="post" action="/logout-everywhere">{{template "token" .CSRF}}<button>Log out everywhere</button></form>
<script>
const live = document.getElementById("live"), events = new EventSource("/events");
events.addEventListener("alive", e => live.textContent = "Live: server time " + e.data);
events.addEventListener("end", e => { events.close(); live.textContent = e.data; });
</script>
{{else}}<p>Not logged in.</p>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
{{template "token" .CSRF}}
<label>User <input name="user"></label>
<label>Password <input name="password" type="password"></label>
<label><input name="remember" type="checkbox"> Remember me for 30 days</label>
<button>Log in</button>
</form>
<p>Demo users:{{range $user, $password := .DemoUsers}} <code>{{$user}}</code> / <code>{{$password}}</code>{{end}}</p>{{end}}
{{end}}
{{define "sessions"}}<!doctype html><title>Active sessions</title>
{{template "flash" .Flash}}
<h1>Sessions of {{.User}}</h1>
<table>
<tr><th>Created</th><th>Last seen</th><th>Ends if unused</th><th>Client IP</th><th>User agent</th><th></th></tr>
{{range .Sessions}}<tr class="session">
<td>{{template "time" .CreatedAt}}</td><td>{{template "time" .LastSeen}}</td><td class="expires">{{template "time" .ExpiresAt}}</td>
<td>{{.ClientIP}}</td><td>{{.UserAgent}}</td>
<td>{{if eq .Handle $.Current}}this device{{else}}<form method="post" action="/sessions/revoke">{{template "token" $.CSRF}}<input type="hidden" name="handle" value="{{.Handle}}"><button>Revoke</button></form>{{end}}</td>
</tr>
{{end}}</table>
{{if gt (len .Sessions) 1}}<form method="post" action="/sessions/others">{{template "token" .CSRF}}<button>Sign out other devices</button></form>{{end}}
<p><a href="/">Home</a></p>
{{end}}`))

// app holds what the handlers share.
type app struct{ m *session.Manager }

// newApp returns the demo's routes behind m's middleware, every form
// checked for the session's token.
func newApp(m *session.Manager) http.Handler {
	a := &app{m: m}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /logout-everywhere", a.logoutEverywhere)
	mux.HandleFunc("GET /sessions", a.sessions)
	mux.HandleFunc("POST /sessions/revoke", a.revoke)
	mux.HandleFunc("POST /sessions/others", a.signOutOthers)
	mux.HandleFunc("GET /events", a.events)
	return m.Handler(a.requireToken(mux))
}

// requireToken refuses a POST whose form does not carry its session's
// token. A form posted from another site cannot know the token; that also
// stops such a form from logging the visitor in to the attacker's account
// (login CSRF), since the login form's token belongs to the visitor's
// anonymous session. The SameSite=Lax cookie already keeps most cross-site
// POSTs away from the session; the token covers the rest (a sibling
// subdomain is same-site).
func (a *app) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			token, ok := session.Value[string](a.m.FromContext(r.Context()), "csrf")
			if !ok || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(token)) != 1 {
				http.Error(w, "form expired: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// formToken returns the session's token for its forms, creating it (and, on
// a first visit, the session) if there is none.
func formToken(s *session.Session) (string, error) {
	if token, ok := session.Value[string](s, "csrf"); ok {
		return token, nil
	}
	token := rand.Text()
	return token, s.Set("csrf", token)
}

// homeData is what the home page shows.
type homeData struct {
	User, CSRF, Flash, Error string
	Remembered               bool
	Expires                  time.Time
	DemoUsers                map[string]string
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.renderHome(w, r, http.StatusOK, "")
}

// renderHome shows the user's session, or the login form with loginError.
func (a *app) renderHome(w http.ResponseWriter, r *http.Request, status int, loginError string) {
	s := a.m.FromContext(r.Context())
	token, err := formToken(s)
	if err != nil {
		serverError(w, "making a form token", err)
		return
	}
	flash, _ := session.Pop[string](s, "flash")
	render(w, status, "home", homeData{
		User: s.User(), CSRF: token, Flash: flash, Error: loginError,
		Remembered: s.Remembered(), Expires: s.ExpiresAt(), DemoUsers: demoUsers,
	})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	user := r.PostFormValue("user")
	if !checkPassword(user, r.PostFormValue("password")) {
		a.renderHome(w, r, http.StatusUnauthorized, "Wrong user or password.")
		return
	}
	// Remembered: a persistent cookie and WithRememberMe's timeouts.
	s.RememberMe(r.PostFormValue("remember") != "")
	// Login gives the session a new ID: whoever knew the anonymous one
	// (planted it, or read it before login) does not get the logged-in
	// session. Its form token is replaced for the same reason.
	if err := s.Login(user); err != nil {
		serverError(w, "logging in", err)
		return
	}
	if err := s.Set("csrf", rand.Text()); err != nil {
		serverError(w, "logging in", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session; the message then starts a new, anonymous one.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	if err := s.Invalidate(); err != nil {
		serverError(w, "logging out", err)
		return
	}
	redirect(w, r, s, "/", "You are logged out.")
}

// logoutEverywhere ends every session of the user: the request's own first,
// then InvalidateUser ends the others.
func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	user := s.User()
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err := s.Invalidate(); err != nil {
		serverError(w, "logging out", err)
		return
	}
	n, err := a.m.InvalidateUser(r.Context(), user)
	if err != nil {
		serverError(w, "logging out everywhere", err)
		return
	}
	log.Printf("login: %s logged out everywhere: %d other session(s) ended", user, n)
	redirect(w, r, s, "/", "You are logged out on every device.")
}

// sessionsData is what the active sessions page shows.
type sessionsData struct {
	User, CSRF, Flash string
	Current           string // the Info.Handle of the request's session
	Sessions          []session.Info
}

func (a *app) sessions(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	user := s.User()
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	infos, err := a.m.UserSessions(r.Context(), user)
	if err != nil {
		serverError(w, "listing sessions", err)
		return
	}
	token, err := formToken(s)
	if err != nil {
		serverError(w, "making a form token", err)
		return
	}
	flash, _ := session.Pop[string](s, "flash")
	render(w, http.StatusOK, "sessions", sessionsData{User: user, CSRF: token, Flash: flash, Current: s.Handle(), Sessions: infos})
}

// revoke ends one of the user's other sessions. Revoke ends whatever session
// a handle names, so the handle is first looked up among the user's own
// sessions: otherwise anyone logged in could end anyone's session.
func (a *app) revoke(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	user, handle := s.User(), r.PostFormValue("handle")
	if user == "" {
		http.Error(w, "not logged in", http.StatusForbidden)
		return
	}
	infos, err := a.m.UserSessions(r.Context(), user)
	if err != nil {
		serverError(w, "listing sessions", err)
		return
	}
	if !hasHandle(infos, handle) {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if handle == s.Handle() {
		a.logout(w, r) // ending one's own session is logging out
		return
	}
	err = a.m.Revoke(r.Context(), handle)
	if err != nil && !errors.Is(err, session.ErrUnknownHandle) { // unknown: it ended meanwhile
		serverError(w, "revoking", err)
		return
	}
	redirect(w, r, s, "/sessions", "That session is signed out.")
}

func hasHandle(infos []session.Info, handle string) bool {
	for _, info := range infos {
		if info.Handle == handle {
			return true
		}
	}
	return false
}

// signOutOthers ends every session of the user but this one.
func (a *app) signOutOthers(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	if s.User() == "" {
		http.Error(w, "not logged in", http.StatusForbidden)
		return
	}
	n, err := s.InvalidateOthers()
	if err != nil {
		serverError(w, "signing out other devices", err)
		return
	}
	redirect(w, r, s, "/sessions", fmt.Sprintf("Signed out %d other device(s).", n))
}

// events streams server-sent events to the home page while its session
// lives: an "alive" event every recheckEvery, and an "end" event once the
// session has ended anywhere (logout, revocation, expiry). The request's
// Session is saved when the stream starts and never reloaded, so the loop
// keeps only its ID and asks the manager again each time (Open: one store
// read per stream and interval).
func (a *app) events(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	if s.User() == "" {
		http.Error(w, "not logged in", http.StatusForbidden)
		return
	}
	id := s.ID()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		fmt.Fprintf(w, "event: alive\ndata: %s\n\n", time.Now().Format(time.TimeOnly))
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		_, err := a.m.Open(r.Context(), id)
		if errors.Is(err, session.ErrNoSession) {
			fmt.Fprint(w, "event: end\ndata: This session was signed out. Reload the page to log in again.\n\n")
			rc.Flush()
			return
		}
		if err != nil { // the browser reconnects
			log.Printf("login: checking the session of an event stream: %v", err)
			return
		}
	}
}

// redirect sends the browser to path, leaving msg in s for the page there
// to show once (session.Pop).
func redirect(w http.ResponseWriter, r *http.Request, s *session.Session, path, msg string) {
	if err := s.Set("flash", msg); err != nil {
		serverError(w, "saving a message", err)
		return
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// render writes template name with status; its first byte commits the
// session, so every session change must come before it.
func render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.ExecuteTemplate(w, name, data); err != nil {
		log.Printf("login: rendering %s: %v", name, err)
	}
}

func serverError(w http.ResponseWriter, doing string, err error) {
	log.Printf("login: %s: %v", doing, err)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

func main() {
	addr := flag.String("addr", "localhost:8081", "address to listen on")
	flag.Parse()
	m, err := newManager()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newApp(m), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("login: serving on http://%s (users alice and bob, passwords on the login page)", *addr)
	log.Fatal(srv.ListenAndServe())
}
