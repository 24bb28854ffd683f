package redisstore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/redisstore"
)

// Sessions in one Redis (or a Sentinel-managed primary, with
// redis.NewFailoverClient), shared by every instance of the application.
// REDIS_URL names the server.
func ExampleNew() {
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // such as redis://localhost:6379/0
	if err != nil {
		log.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true // a request's deadline bounds its Redis calls
	client := redis.NewClient(opt)
	defer client.Close()
	store, err := redisstore.New(client, redisstore.WithKeyPrefix("myapp:session:"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	app := http.NewServeMux()
	app.HandleFunc("POST /theme", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("theme", r.FormValue("theme"))
	})
	app.HandleFunc("GET /theme", func(w http.ResponseWriter, r *http.Request) {
		theme, _ := session.Value[string](session.FromContext(r.Context()), "theme")
		fmt.Printf("theme: %q\n", theme)
	})
	app.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Invalidate(); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		fmt.Println("logged out")
	})
	h := m.Handler(app) // an application serves it: http.ListenAndServe(":8080", h)

	cookie := send(h, "POST", "/theme?theme=dark", nil) // a hash at myapp:session:s:{<hash of the ID>}
	send(h, "GET", "/theme", cookie)                    // read back from Redis
	send(h, "POST", "/logout", cookie)                  // deletes the hash
	send(h, "GET", "/theme", cookie)                    // the old cookie finds nothing
	// Output:
	// theme: "dark"
	// logged out
	// theme: ""
}

// Sessions in a Redis Cluster: every script touches one key, and renewals
// run the store's cross-slot protocol. It needs a cluster, so it is
// compiled but not run; cluster_test.go runs the store on one.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	store, err := redisstore.New(client)
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.WithStore(store), session.WithMaxSessionsPerUser(5))
	if err != nil {
		log.Fatal(err)
	}
	_ = m // wrap the application's handlers with m.Handler
}

// A local cache in front of Redis: a session read again on this instance
// costs no round trip, and a logout on another instance reaches this one
// within two seconds at worst (usually within a millisecond).
func ExampleWithLocalCache() {
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	store, err := redisstore.New(client,
		redisstore.WithKeyPrefix("myapp:session:"),
		redisstore.WithLocalCache(2*time.Second), // another instance's logout reaches this one within 2 s
	)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, err := session.New(session.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	app := http.NewServeMux()
	app.HandleFunc("POST /theme", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("theme", r.FormValue("theme"))
	})
	app.HandleFunc("GET /theme", func(w http.ResponseWriter, r *http.Request) {
		theme, _ := session.Value[string](session.FromContext(r.Context()), "theme")
		fmt.Printf("theme: %q\n", theme)
	})
	h := m.Handler(app)
	cookie := send(h, "POST", "/theme?theme=light", nil)
	send(h, "GET", "/theme", cookie) // from Redis, then kept
	send(h, "GET", "/theme", cookie) // from memory, once tracking is on
	// Output:
	// theme: "light"
	// theme: "light"
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
