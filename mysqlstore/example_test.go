package mysqlstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session"
	"github.com/sessionid/session/mysqlstore"
)

// Example keeps a manager's sessions in MySQL or MariaDB, in the tables
// myapp_sessions and myapp_sessions_values, which Migrate creates. MYSQL_DSN
// names the server and database, such as user:password@tcp(localhost:3306)/myapp.
func Example() {
	ctx := context.Background()
	dsn, err := mysql.ParseDSN(os.Getenv("MYSQL_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := mysqlstore.New(dsn, mysqlstore.WithTable("myapp_sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the background cleanup and closes the store's pool
	// Migrate creates the tables if missing (or run the SQL in mysqlstore/doc.go).
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
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

	cookie := send(h, "POST", "/cart?item=apple", nil) // a row in myapp_sessions, one in myapp_sessions_values
	send(h, "GET", "/cart", cookie)                    // read back from the server
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
