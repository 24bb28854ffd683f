package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionid/session"
)

// get sends one request to h with the given cookie and returns the response.
func get(h http.Handler, path string, cookie *http.Cookie) *http.Response {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// cookieOf returns the first cookie a response set.
func cookieOf(resp *http.Response) *http.Cookie {
	if cs := resp.Cookies(); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

func Example() {
	m, err := session.New(session.WithCookieName("JSESSIONID"))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	counter := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := session.Value[int](s, "visits")
		s.Set("visits", n+1)
		fmt.Println("visit", n+1)
	}))

	first := get(counter, "/", nil)
	cookie := cookieOf(first)
	fmt.Println(cookie.Name, "HttpOnly:", cookie.HttpOnly, "SameSite=Lax:", cookie.SameSite == http.SameSiteLaxMode)
	get(counter, "/", cookie)
	get(counter, "/", cookie)
	// Output:
	// visit 1
	// JSESSIONID HttpOnly: true SameSite=Lax: true
	// visit 2
	// visit 3
}

func ExampleSession_Login() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	app := http.NewServeMux()
	app.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("theme", "dark")
	})
	app.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		// A real handler checks the password first.
		if err := session.FromContext(r.Context()).Login("alice"); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	})
	app.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		theme, _ := session.Value[string](s, "theme")
		fmt.Printf("user=%q theme=%q\n", s.User(), theme)
	})
	h := m.Handler(app)

	anonymous := cookieOf(get(h, "/visit", nil))
	loggedIn := cookieOf(get(h, "/login", anonymous))
	fmt.Println("new ID at login:", loggedIn.Value != anonymous.Value)
	get(h, "/whoami", loggedIn)
	get(h, "/whoami", anonymous) // the pre-login ID is worthless now
	// Output:
	// new ID at login: true
	// user="alice" theme="dark"
	// user="" theme=""
}

func ExampleSession_Invalidate() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	app := http.NewServeMux()
	app.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("cart", []string{"apple"})
	})
	app.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Invalidate(); err != nil {
			http.Error(w, "checkout failed", http.StatusInternalServerError)
		}
	})
	app.HandleFunc("/cart", func(w http.ResponseWriter, r *http.Request) {
		cart, _ := session.Value[[]string](session.FromContext(r.Context()), "cart")
		fmt.Println("cart:", cart)
	})
	h := m.Handler(app)

	cookie := cookieOf(get(h, "/add", nil))
	get(h, "/cart", cookie)
	expired := cookieOf(get(h, "/checkout", cookie))
	fmt.Println("cookie removed:", expired.MaxAge < 0)
	get(h, "/cart", cookie) // replaying the old ID finds nothing
	// Output:
	// cart: [apple]
	// cookie removed: true
	// cart: []
}

func ExampleManager_InvalidateUser() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.URL.Query().Get("user"))
	}))
	get(login, "/?user=alice", nil) // phone
	get(login, "/?user=alice", nil) // laptop
	get(login, "/?user=bob", nil)

	sessions, _ := m.UserSessions(context.Background(), "alice")
	fmt.Println("alice has", len(sessions), "sessions")
	n, _ := m.InvalidateUser(context.Background(), "alice")
	fmt.Println("ended", n)
	sessions, _ = m.UserSessions(context.Background(), "bob")
	fmt.Println("bob still has", len(sessions))
	// Output:
	// alice has 2 sessions
	// ended 2
	// bob still has 1
}

func ExampleHooks() {
	m, err := session.New(session.WithHooks(session.Hooks{
		Rejected: func(ctx context.Context, e session.Event) {
			fmt.Println("rejected:", e.Reason)
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get(h, "/", &http.Cookie{Name: session.DefaultCookieName, Value: "not-an-id"})
	get(h, "/", &http.Cookie{Name: session.DefaultCookieName, Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	// Output:
	// rejected: malformed cookie
	// rejected: unknown ID
}

func ExampleNewMemoryStore() {
	store := session.NewMemoryStore(
		session.WithMaxSessions(100_000),       // bounded memory under a flood
		session.WithSweepInterval(time.Minute), // evict expired sessions every minute
	)
	defer store.Close()
	m, err := session.New(session.WithStore(store), session.WithIdleTimeout(15*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("seen", true)
	}))
	get(h, "/", nil)
	get(h, "/", nil)
	fmt.Println("sessions:", store.Len())
	// Output:
	// sessions: 2
}
