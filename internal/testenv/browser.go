package testenv

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// NewBrowser returns a client with a cookie jar of its own, as a browser
// has: it sends back the session cookie a server set, so that its requests
// make one session.
func NewBrowser() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Jar: jar}
}

// Fetch sends a request with no body through c and returns the answer's
// body, failing tb on a transport error or a status other than 200.
func Fetch(tb testing.TB, c *http.Client, method, url string) string {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s %s: status %d, want 200; body: %s", method, url, resp.StatusCode, body)
	}
	return string(body)
}
