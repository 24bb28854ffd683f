package redisstore_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
	"github.com/sessionid/session/redisstore"
)

// Sessions in one Redis (or a Sentinel-managed primary, with
// redis.NewFailoverClient), shared by every instance of the application.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // a request's deadline bounds its Redis calls
	})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.WithKeyPrefix("myapp:session:"))
	if err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.Value[int](session.FromContext(r.Context()), "visits")
		fmt.Fprintf(w, "%d visits\n", n)
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}

// Sessions in a Redis Cluster: every script touches one key, and renewals
// run the store's cross-slot protocol.
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
