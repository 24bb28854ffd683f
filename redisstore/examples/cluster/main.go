// Command cluster runs two instances of one small application on two ports,
// sharing their sessions through one Redis: a counter kept in the session, a
// login and a logout. A session started on one instance goes on on the
// other, as behind a load balancer without sticky sessions.
//
//	go run ./examples/cluster -addr1 localhost:8081 -addr2 localhost:8082 -redis redis://localhost:6379/0
//
// Then, with one cookie jar for both ports (curl -c jar -b jar):
//
//	curl -c jar -b jar -X POST localhost:8081/incr
//	curl -c jar -b jar localhost:8082/
//	curl -c jar -b jar -X POST -d user=alice localhost:8082/login
//	curl -c jar -b jar -X POST localhost:8081/logout
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/redisstore"
)

// newInstance returns one instance of the application: its own Redis
// client, store and Manager, as a separate process would have. prefix must
// be the same for every instance, so that they see the same sessions.
func newInstance(name, redisURL, prefix string) (http.Handler, func(), error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, err
	}
	opt.ContextTimeoutEnabled = true
	client := redis.NewClient(opt)
	store, err := redisstore.New(client, redisstore.WithKeyPrefix(prefix))
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	m, err := session.New(session.WithStore(store))
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return newApp(name, m), func() { _ = client.Close() }, nil
}

// newApp returns the application's routes behind m's middleware. Every
// response says which instance answered.
func newApp(name string, m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		show(w, name, session.FromContext(r.Context()))
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Value[int](s, "count")
		s.Set("count", n+1)
		show(w, name, s)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// A real application checks a password here.
		s := session.FromContext(r.Context())
		if err := s.Login(r.PostFormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		show(w, name, s)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Invalidate(); err != nil {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		show(w, name, s)
	})
	return m.Handler(mux)
}

// show writes the session's state; its first byte saves the session.
func show(w http.ResponseWriter, name string, s *session.Session) {
	n, _ := session.Value[int](s, "count")
	fmt.Fprintf(w, "instance=%s user=%s count=%d\n", name, s.User(), n)
}

func main() {
	addr1 := flag.String("addr1", "localhost:8081", "address of the first instance")
	addr2 := flag.String("addr2", "localhost:8082", "address of the second instance")
	redisURL := flag.String("redis", "redis://localhost:6379/0", "URL of the shared Redis")
	prefix := flag.String("prefix", "cluster-example:", "prefix of the keys in Redis")
	flag.Parse()
	errs := make(chan error, 2)
	for i, addr := range []string{*addr1, *addr2} {
		name := fmt.Sprint(i + 1)
		app, closeApp, err := newInstance(name, *redisURL, *prefix)
		if err != nil {
			log.Fatal(err)
		}
		defer closeApp()
		srv := &http.Server{Addr: addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
		log.Printf("cluster: instance %s on http://%s", name, addr)
		go func() { errs <- srv.ListenAndServe() }()
	}
	if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Print(err)
	}
}
