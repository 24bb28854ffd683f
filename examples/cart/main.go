// Command cart is a tiny shop on the default in-memory store: a product list,
// a cart kept in the session, and a checkout that ends the session, so that
// the ID that placed an order can never add to a cart again.
//
//	go run ./examples/cart -addr localhost:8080
package main

import (
	"flag"
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
{{define "products"}}<!doctype html><title>Shop</title>
<h1>Products</h1>
<ul>{{range .}}
<li>{{.}} <form method="post" action="/cart"><input type="hidden" name="item" value="{{.}}"><button>Add to cart</button></form></li>{{end}}
</ul>
<p><a href="/cart">View cart</a></p>
{{end}}
{{define "cart"}}<!doctype html><title>Cart</title>
<h1>Your cart</h1>
{{if .}}<ol>{{range .}}
<li>{{.}}</li>{{end}}
</ol>
<form method="post" action="/checkout"><button>Check out</button></form>
{{else}}<p>Your cart is empty.</p>{{end}}
<p><a href="/">Continue shopping</a></p>
{{end}}
{{define "order"}}<!doctype html><title>Order placed</title>
<h1>Thank you</h1>
<p>Your order of {{len .}} item(s) is placed.</p>
<p><a href="/">Shop again</a></p>
{{end}}`))

// newApp returns the shop's routes behind m's middleware. Forms need no CSRF
// token: the session cookie is SameSite=Lax, so a cross-site POST arrives
// without it and can only reach an empty cart.
func newApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, "products", products)
	})
	mux.HandleFunc("GET /cart", viewCart)
	mux.HandleFunc("POST /cart", addToCart)
	mux.HandleFunc("POST /checkout", checkout)
	return m.Handler(mux)
}

func cartOf(r *http.Request) []string {
	cart, _ := session.Value[[]string](session.FromContext(r.Context()), "cart")
	return cart
}

func viewCart(w http.ResponseWriter, r *http.Request) {
	render(w, "cart", cartOf(r))
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
	session.FromContext(r.Context()).Set("cart", cart)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// checkout places the order and ends the session before the response
// starts, so that the response can still remove the cookie.
func checkout(w http.ResponseWriter, r *http.Request) {
	cart := cartOf(r)
	if len(cart) == 0 {
		http.Error(w, "your cart is empty", http.StatusBadRequest)
		return
	}
	log.Printf("cart: order placed: %q", cart)
	if err := session.FromContext(r.Context()).Invalidate(); err != nil {
		log.Printf("cart: ending session after checkout: %v", err)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	render(w, "order", cart)
}

// render writes template name; its first byte commits the session, so every
// session change must come before it.
func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.ExecuteTemplate(w, name, data); err != nil {
		log.Printf("cart: rendering %s: %v", name, err)
	}
}

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	m, err := session.New(session.WithCookieName("JSESSIONID"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: newApp(m), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("cart: serving on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
