package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The SQL workloads (sqlite_test.go, mysql_test.go): the requests of
// BenchmarkRead and BenchmarkWrite with the sessions in a database, this
// library's store for it against scs's. Their sessions hold richValues
// besides n, as an application's session holds a user, a token and a
// cart: a write changes n alone, so that a store that writes only the
// values a request changed and one that rewrites the whole session both
// show as what they are.

// richValues are the values, besides n, of the sessions of the SQL
// workloads (about 350 bytes in all).
var richValues = map[string]string{
	"user":  "user-1234567",
	"email": "someone@example.com",
	"csrf":  strings.Repeat("c", 43),
	"prefs": `{"theme":"dark","lang":"en-GB","tz":"Europe/London"}`,
	"cart":  strings.Repeat("sku-000123:2,", 16),
}

// otherSessions is how many sessions each database of the SQL workloads
// holds besides the measured one, as a live application's table does. It
// also keeps the measurements off a plan of a one-row table: there,
// MariaDB runs mysqlstore's UPDATE ... WHERE session_key = ? AND
// expires_at > now through the expires_at index (a range scan, "Using
// buffer") rather than the unique key, which it uses from a score of rows
// on.
const otherSessions = 100

// scsCleanupOff is the cleanup interval of scs's database stores: none, as
// for this library's (WithCleanupInterval(0)), so that no background
// deletion runs during a measurement and nothing is left running after it.
const scsCleanupOff = time.Duration(0)

// createRichHandler stores n=1 and richValues in a new session.
func createRichHandler(l *library) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.set(w, r, 1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range richValues {
			l.putString(r, k, v)
		}
		_, _ = w.Write(body)
	}))
}

// newRichVisitor creates a session holding n=1 and richValues, and returns
// its cookie, after checking that a request with it reads every value back.
// For a floor it returns nil.
func newRichVisitor(b *testing.B, l *library) *http.Cookie {
	b.Helper()
	if l.floor {
		return nil
	}
	w := serve(createRichHandler(l), request(nil))
	c := sessionCookie(w)
	if w.Code != http.StatusOK || c == nil {
		b.Fatalf("%s: creating a session: status %d, cookie %v", l.name, w.Code, c)
	}
	checkRichValues(b, l, c)
	return c
}

// addSessions creates count sessions holding n=1 and richValues, none for
// a floor.
func addSessions(b *testing.B, l *library, count int) {
	b.Helper()
	if l.floor {
		return
	}
	h := createRichHandler(l)
	for range count {
		if w := serve(h, request(nil)); w.Code != http.StatusOK || sessionCookie(w) == nil {
			b.Fatalf("%s: creating a session: status %d", l.name, w.Code)
		}
	}
}

// checkRichValues checks that the session of cookie holds richValues.
func checkRichValues(b *testing.B, l *library, cookie *http.Cookie) {
	b.Helper()
	got := map[string]string{}
	l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range richValues {
			if v, ok := l.getString(r, k); ok {
				got[k] = v
			}
		}
	})).ServeHTTP(httptest.NewRecorder(), request(cookie))
	for k, want := range richValues {
		if got[k] != want {
			b.Fatalf("%s: value %q read back as %q, want %q", l.name, k, got[k], want)
		}
	}
}

// benchSQL runs the handler made by mk, once per library of names, on an
// existing session holding n and richValues; delta is how much one request
// changes n. newLib makes a fresh instance of a library, on a database of
// its own, and the counter of its round trips to the server (nil where
// there is no server).
func benchSQL(b *testing.B, names []string, newLib func(*testing.B, string) (*library, *tripCounter),
	mk func(*library) http.Handler, delta int) {
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			l, trips := newLib(b, name)
			h := mk(l)
			addSessions(b, l, otherSessions)
			cookie := newRichVisitor(b, l)
			checkLoads(b, l, h, cookie, delta)
			before := 0
			if !l.floor {
				before = stored(b, l, cookie)
			}
			base := request(cookie)
			trips.Take()
			serveTimed(b, h, base)
			if trips != nil {
				b.ReportMetric(float64(trips.Take())/float64(b.N), "roundtrips/op")
			}
			if l.floor {
				return
			}
			if after := stored(b, l, cookie); after != before+delta*b.N {
				b.Fatalf("%s: n went from %d to %d in %d requests, want +%d each", name, before, after, b.N, delta)
			}
			checkRichValues(b, l, cookie)
		})
	}
}
