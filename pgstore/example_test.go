package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/sessionid/session/pgstore"
)

// Example sets up a manager whose sessions live in PostgreSQL. It needs a
// database, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pool, pgstore.WithTable("app.sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the background cleanup, not the pool
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	m, err := session.New(session.WithStore(store))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", r.FormValue("item"))
	})
	log.Fatal(http.ListenAndServe(":8080", m.Handler(mux)))
}
