// Command cart is a tiny shop on the default in-memory store: a product list
// showing the cart's size, a cart kept in the session, one-time messages
// ("added to your cart"), and a checkout that ends the session, so that the
// ID that placed an order can never add to a cart again.
//
//	go run ./examples/cart -addr localhost:8080
package main

import (
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"slices"
	"time"

	"github.com/sessionid/session"
)

// products is the shop's catalogue; an item not in it cannot be added.
var products = []string{"apple", "bread", "cheese"}

var page = template.Must(template.New("").Parse(`
{{define "flash"}}{{with .}}<p role="status" id="flash">{{.}}</p>{{end}}{{end}}
{{define "products"}}<!doctype html><title>Shop</title>
{{template "flash" .Flash}}
<h1>Products</h1>
<ul>{{range .Products}}
<li>{{.}} <form method="post" action="/cart"><input type="hidden" name="item" value="{{.}}"><button>Add to cart</button></form></li>{{end}}
</ul>
<p><a href="/cart">View cart (<span id="count">{{.Count}}</span>)</a></p>
{{end}}
{{define "cart"}}<!doctype html><title>Cart</title>
{{template "flash" .Flash}}
<h1>Your cart</h1>
{{with .Items}}<ol>{{range .}}
<li>{{.}}</li>{{end}}
</ol>
<form method="post" action="/checkout"><button>Check out</button></form>
{{else}}<p>Your cart is empty.</p>{{end}}
<p><a href="/">Continue shopping</a></p>
{{end}}`))

// newManager returns the shop's session manager. WithNoStore keeps every
// page shown to a visitor with a session out of all caches, the browser's
// included: after checkout, the back button shows no old cart.
func newManager() (*session.Manager, error) {
	return session.New(session.WithCookieName("JSESSIONID"), session.WithNoStore(true))
}

// newApp returns the shop's routes behind m's middleware. Forms need no CSRF
// token: the session cookie is SameSite=Lax, so a cross-site POST arrives
// without it and can only reach an empty cart.
func newApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", viewProducts)
	mux.HandleFunc("GET /cart", viewCart)
	mux.HandleFunc("POST /cart", addToCart)
	mux.HandleFunc("POST /checkout", checkout)
	return m.Handler(mux)
}

func cartOf(r *http.Request) []string {
	cart, _ := session.Value[[]string](session.FromContext(r.Context()), "cart")
	return cart
}

// flashOf returns the message left for this page, and removes it so that it
// shows once.
func flashOf(r *http.Request) string {
	msg, _ := session.Pop[string](session.FromContext(r.Context()), "flash")
	return msg
}

func viewProducts(w http.ResponseWriter, r *http.Request) {
	render(w, "products", struct {
		Products []string
		Count    int
		Flash    string
	}{products, len(cartOf(r)), flashOf(r)})
}

func viewCart(w http.ResponseWriter, r *http.Request) {
	render(w, "cart", struct {
		Items []string
		Flash string
	}{cartOf(r), flashOf(r)})
}

// addToCart stores the grown cart. Two adds racing in one session both read
// the old cart and the later write wins: fine for a demo, while a real shop
// would keep the cart in its own database.
func addToCart(w http.ResponseWriter, r *http.Request) {
	item := r.PostFormValue("item")
	if !slices.Contains(products, item) {
		http.Error(w, "no such product", http.StatusBadRequest)
		return
	}
	// Clip so that append copies: the slice may be the session's own.
	cart := append(slices.Clip(cartOf(r)), item)
	if err := session.FromContext(r.Context()).Set("cart", cart); err != nil {
		serverError(w, "adding to the cart", err)
		return
	}
	redirect(w, r, "/cart", fmt.Sprintf("Added %s to your cart.", item))
}

// checkout places the order and ends the session before the response
// starts, so that the response can still replace the cookie. The message
// after it starts a new session, under a new ID.
func checkout(w http.ResponseWriter, r *http.Request) {
	cart := cartOf(r)
	if len(cart) == 0 {
		http.Error(w, "your cart is empty", http.StatusBadRequest)
		return
	}
	log.Printf("cart: order placed: %q", cart)
	if err := session.FromContext(r.Context()).Invalidate(); err != nil {
		serverError(w, "ending the session after checkout", err)
		return
	}
	redirect(w, r, "/", fmt.Sprintf("Thank you: your order of %d item(s) is placed.", len(cart)))
}

// redirect sends the browser to path, leaving msg for the page there to
// show once.
func redirect(w http.ResponseWriter, r *http.Request, path, msg string) {
	if err := session.FromContext(r.Context()).Set("flash", msg); err != nil {
		serverError(w, "saving a message", err)
		return
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// render writes template name; its first byte commits the session, so every
// session change must come before it.
func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.ExecuteTemplate(w, name, data); err != nil {
		log.Printf("cart: rendering %s: %v", name, err)
	}
}

func serverError(w http.ResponseWriter, doing string, err error) {
	log.Printf("cart: %s: %v", doing, err)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	m, err := newManager()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newApp(m), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("cart: serving on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
