// Package testapp is the smallest application behind a session manager
// that a store's end-to-end tests need: a value set by one request and read
// by the next.
package testapp

import (
	"io"
	"net/http"

	"github.com/sessionid/session"
)

// Values returns a mux that serves
//
//	GET /get?k=K      the session's string value K
//	GET /set?k=K&v=V  sets K to V, answers "ok"
//
// to which a test may add routes of its own. It must run behind
// Manager.Handler.
func Values() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Value[string](session.FromContext(r.Context()), r.URL.Query().Get("k"))
		_, _ = io.WriteString(w, v)
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}
