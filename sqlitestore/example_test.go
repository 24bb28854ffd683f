package sqlitestore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/sessionid/session"
	"github.com/sessionid/session/sqlitestore"
)

// Example keeps a manager's sessions in a SQLite file, which Open creates
// with its tables. The file here is in a temporary directory; an
// application names its own, such as /var/lib/myapp/sessions.db.
func Example() {
	dir, err := os.MkdirTemp("", "sqlitestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the background cleanup and closes the file
	m, err := session.New(session.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	app := http.NewServeMux()
	app.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", r.FormValue("item"))
	})
	app.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		item, _ := session.Value[string](session.FromContext(r.Context()), "cart")
		fmt.Printf("cart: %q\n", item)
	})
	app.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Invalidate(); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		fmt.Println("logged out")
	})
	h := m.Handler(app) // an application serves it: http.ListenAndServe(":8080", h)

	cookie := send(h, "POST", "/cart?item=apple", nil) // a row in sessions, one in sessions_values
	send(h, "GET", "/cart", cookie)                    // read back from the file
	send(h, "POST", "/logout", cookie)                 // deletes both rows
	send(h, "GET", "/cart", cookie)                    // the old cookie finds nothing
	// Output:
	// cart: "apple"
	// logged out
	// cart: ""
}

// send serves one request with h, as from a browser that holds cookie
// (none if nil), and returns the session cookie the response sets, if any.
func send(h http.Handler, method, target string, cookie *http.Cookie) *http.Cookie {
	r := httptest.NewRequest(method, target, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == session.DefaultCookieName {
			return c
		}
	}
	return nil
}
