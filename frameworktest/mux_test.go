package frameworktest_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/sessionid/session"
)

// muxApp is the test app on gorilla/mux: the session middleware in the
// router's own stack (Router.Use; gorilla/mux has no recovery middleware of
// its own), and path variables from mux.Vars.
func muxApp(m *session.Manager) http.Handler {
	r := mux.NewRouter()
	r.Use(m.Handler)
	r.HandleFunc("/login/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := mux.Vars(r)["user"]
		if err := session.FromContext(r.Context()).Login(user); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "hello %s", user)
	}).Methods(http.MethodPost)
	r.HandleFunc("/values/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, err := io.ReadAll(r.Body)
		if err == nil {
			err = session.FromContext(r.Context()).Set(mux.Vars(r)["key"], string(v))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodPut)
	r.HandleFunc("/values/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := session.Value[string](session.FromContext(r.Context()), mux.Vars(r)["key"])
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, v)
	}).Methods(http.MethodGet)
	r.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Invalidate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodPost)
	r.HandleFunc("/stream/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Value[string](session.FromContext(r.Context()), mux.Vars(r)["key"])
		fmt.Fprintln(w, v)
		_ = http.NewResponseController(w).Flush()
		hold(r)
	}).Methods(http.MethodGet)
	return r
}
