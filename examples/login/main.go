// Command login shows logging in with session renewal and an "active
// sessions" page: a user sees where they are logged in, can end any one of
// those sessions, or all of them at once.
//
//	go run ./examples/login -addr localhost:8081
//
// Log in as alice or bob; the passwords are in demoUsers.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"html/template"
	"log"
	"net/http"
	"time"

	"github.com/sessionid/session"
)

// demoUsers maps the demo's users to their passwords. DEMO ONLY: a real
// application keeps password hashes (argon2id, bcrypt) in a database, never
// passwords in its source.
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

var page = template.Must(template.New("").Parse(`
{{define "home"}}<!doctype html><title>Login demo</title>
{{if .User}}<p>Logged in as <b id="user">{{.User}}</b>.</p>
<p><a href="/sessions">Active sessions</a></p>
<form method="post" action="/logout"><button>Log out</button></form>
<form method="post" action="/logout-everywhere"><button>Log out everywhere</button></form>
{{else}}<p>Not logged in.</p>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>User <input name="user"></label>
<label>Password <input name="password" type="password"></label>
<button>Log in</button>
</form>{{end}}
{{end}}
{{define "sessions"}}<!doctype html><title>Active sessions</title>
<h1>Sessions of {{.User}}</h1>
<table>
<tr><th>Created</th><th>Last seen</th><th>Client IP</th><th>User agent</th><th></th></tr>
{{range .Sessions}}<tr class="session">
<td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04:05"}}</td>
<td>{{.ClientIP}}</td><td>{{.UserAgent}}</td>
<td>{{if eq .Handle $.Current}}this session{{else}}<form method="post" action="/sessions/revoke"><input type="hidden" name="handle" value="{{.Handle}}"><button>Revoke</button></form>{{end}}</td>
</tr>
{{end}}</table>
<p><a href="/">Home</a></p>
{{end}}`))

// app holds what the handlers share.
type app struct{ m *session.Manager }

// newApp returns the demo's routes behind m's middleware. The session cookie
// is SameSite=Lax, so a cross-site POST arrives without it and acts on an
// anonymous session; only /login, which works on an anonymous session,
// needs a token of its own.
func newApp(m *session.Manager) http.Handler {
	a := &app{m: m}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /logout-everywhere", a.logoutEverywhere)
	mux.HandleFunc("GET /sessions", a.sessions)
	mux.HandleFunc("POST /sessions/revoke", a.revoke)
	return m.Handler(mux)
}

// homeData is what the home page shows.
type homeData struct{ User, CSRF, Error string }

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	if user := s.User(); user != "" {
		render(w, http.StatusOK, "home", homeData{User: user})
		return
	}
	render(w, http.StatusOK, "home", homeData{CSRF: loginToken(s)})
}

// loginToken returns the anonymous session's token for the login form,
// creating both on the first visit. The token stops a cross-site form from
// logging the visitor in to the attacker's account (login CSRF): such a POST
// carries no session cookie, so it has no token to match.
func loginToken(s *session.Session) string {
	token, ok := session.Value[string](s, "csrf")
	if !ok {
		token = rand.Text()
		s.Set("csrf", token)
	}
	return token
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := a.m.FromContext(r.Context())
	token, ok := session.Value[string](s, "csrf")
	if !ok || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(token)) != 1 {
		http.Error(w, "login form expired: reload the page and try again", http.StatusForbidden)
		return
	}
	user := r.PostFormValue("user")
	if !checkPassword(user, r.PostFormValue("password")) {
		render(w, http.StatusUnauthorized, "home", homeData{CSRF: token, Error: "Wrong user or password."})
		return
	}
	// Login gives the session a new ID: whoever knew the anonymous one
	// (planted it, or read it before login) does not get the logged-in
	// session.
	if err := s.Login(user); err != nil {
		serverError(w, "logging in", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.m.FromContext(r.Context()).Invalidate(); err != nil {
		serverError(w, "logging out", err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logoutEverywhere ends every session of the user. It invalidates the
// request's own session first, which also removes this browser's cookie;
// InvalidateUser then ends the others.
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sessionsData is what the active sessions page shows.
type sessionsData struct {
	User     string
	Current  string // the Info.Handle of the request's session
	Sessions []session.Info
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
	render(w, http.StatusOK, "sessions", sessionsData{User: user, Current: s.Handle(), Sessions: infos})
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
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

func hasHandle(infos []session.Info, handle string) bool {
	for _, info := range infos {
		if info.Handle == handle {
			return true
		}
	}
	return false
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
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newApp(m), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("login: serving on http://%s (users alice and bob, passwords in the source)", *addr)
	log.Fatal(srv.ListenAndServe())
}
