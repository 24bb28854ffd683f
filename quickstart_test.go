package session_test

import (
	"log"
	"net/http"
	"slices"

	"github.com/sessionid/session"
)

// quickStart is the quick start of README.md and doc.go, compiled here so
// that it cannot rot (TestDocsGoBlocksAreCompiled checks that the two show
// these lines). It serves forever, so no test runs it; examples/cart and
// examples/login are complete programs with tests.
func quickStart(checkPassword func(user, password string) (string, bool)) {
	m, err := session.New(session.WithCookieName("JSESSIONID"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		cart, _ := session.Value[[]string](s, "cart")
		if err := s.Set("cart", append(slices.Clip(cart), r.FormValue("item"))); err != nil {
			http.Error(w, "cart not saved", http.StatusBadRequest) // too large, say
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user, ok := checkPassword(r.FormValue("user"), r.FormValue("password"))
		if !ok {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		if err := session.FromContext(r.Context()).Login(user); err != nil { // a new ID: no fixation
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		// ... place the order ...
		if err := session.FromContext(r.Context()).Invalidate(); err != nil { // the ID is dead at once
			http.Error(w, "checkout failed", http.StatusInternalServerError)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

var _ = quickStart
