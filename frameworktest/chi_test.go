package frameworktest_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/sessionid/session"
)

// chiApp is the test app on chi: the session middleware in chi's own stack,
// after its Recoverer, and path parameters from chi.URLParam.
func chiApp(m *session.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, m.Handler)
	r.Post("/login/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := chi.URLParam(r, "user")
		if err := session.FromContext(r.Context()).Login(user); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "hello %s", user)
	})
	r.Put("/values/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, err := io.ReadAll(r.Body)
		if err == nil {
			err = session.FromContext(r.Context()).Set(chi.URLParam(r, "key"), string(v))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/values/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, ok := session.Value[string](session.FromContext(r.Context()), chi.URLParam(r, "key"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, v)
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Invalidate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Post("/panic/{key}", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Set(chi.URLParam(r, "key"), changedBeforePanic)
		panic("handler failed")
	})
	r.Get("/stream/{key}", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Value[string](session.FromContext(r.Context()), chi.URLParam(r, "key"))
		fmt.Fprintln(w, v)
		_ = http.NewResponseController(w).Flush()
		hold(r)
	})
	return r
}
