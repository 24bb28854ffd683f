// Package browsertest drives the example applications in a real, headless
// Chromium, so that what the library promises about its cookie (HttpOnly,
// SameSite=Lax, Secure over TLS, replaced on invalidation, renewed at login,
// persistent only for "remember me") and its pages (kept out of the back
// button's cache, told when their session ends elsewhere) is checked where
// it matters: in a browser's cookie store and in its pages.
//
// It holds tests only. They build examples/cart and examples/login with
// `go build`, start the binaries on free loopback ports and drive them
// through the Chrome DevTools Protocol (github.com/chromedp/chromedp). The
// HTTPS test serves an equivalent cart handler with httptest.NewTLSServer,
// since the examples listen on plain HTTP.
//
// The tests need a Chromium binary: /usr/bin/chromium, or chromium,
// chromium-browser or google-chrome on PATH. Without one they skip. On
// Debian:
//
//	apt-get install -y chromium
//	cd browsertest && go test ./...
//
// The module is separate from the core module so that the core needs no
// browser driver.
package browsertest
