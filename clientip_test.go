package session

import (
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// clientIPPrefixes parses CIDR prefixes for tests.
func clientIPPrefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// clientIPRequest returns a request from remote with the given header
// lines, each added as its own line.
func clientIPRequest(remote string, xff, fwd []string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	for _, v := range fwd {
		r.Header.Add("Forwarded", v)
	}
	return r
}

// clientIPWant parses an expected address; "" means the zero Addr.
func clientIPWant(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestParseHostPort(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7:1234", "203.0.113.7"},
		{" 203.0.113.7 ", "203.0.113.7"},
		{`"203.0.113.7:80"`, "203.0.113.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{`"[2001:db8::1]:4711"`, "2001:db8::1"},
		{"2001:DB8::A", "2001:db8::a"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"::1", "::1"},
		{"", ""},
		{"   ", ""},
		{`""`, ""},
		{"unknown", ""},
		{"_hidden", ""},
		{"example.com:80", ""},
		{"203.0.113.7:99999", ""},
		{"203.0.113.7:", ""},
		{"203.0.113", ""},
		{"256.0.0.1", ""},
		{"[203.0.113.7]:80", ""},
		{"[2001:db8::1", ""},
		{"2001:db8::1]", ""},
		{"[]", ""},
		{"1.2.3.4, 5.6.7.8", ""},
		{"fe80::1%eth0", ""},
		{"[fe80::1%eth0]", ""},
		// A zone is refused with or without a port: it is text of the
		// client's choosing, and no prefix ever contains a zoned address.
		{"[fe80::1%eth0]:80", ""},
		{"[fe80::1%25evil\nzone]:80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := parseHostPort(tt.in)
			require.Equal(t, clientIPWant(tt.want), got, "parseHostPort(%q) = %v", tt.in, got)
		})
	}
}

func TestClientAddr(t *testing.T) {
	proxyCIDRs := []string{"10.0.0.0/8", "2001:db8:ffff::/48"}
	tests := []struct {
		name      string
		remote    string
		xff       []string
		fwd       []string
		trusted   []string
		forwarded bool // the proxies write Forwarded (WithProxyHeader), not X-Forwarded-For
		want      string
	}{
		// RemoteAddr only.
		{name: "IPv4 peer", remote: "203.0.113.7:1234", want: "203.0.113.7"},
		{name: "IPv6 peer", remote: "[2001:db8::7]:443", want: "2001:db8::7"},
		{name: "4-in-6 peer is unmapped", remote: "[::ffff:203.0.113.7]:80", want: "203.0.113.7"},
		{name: "peer without port", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "IPv6 peer without port", remote: "2001:db8::7", want: "2001:db8::7"},
		{name: "garbage peer", remote: "not an address", want: ""},
		{name: "empty peer", remote: "", want: ""},
		{name: "garbage peer with trusted proxies and headers", remote: "garbage:1", xff: []string{"203.0.113.9"}, trusted: proxyCIDRs, want: ""},

		// Untrusted peers: forwarding headers are ignored.
		{name: "no trusted proxies ignores X-Forwarded-For", remote: "10.0.0.1:1", xff: []string{"203.0.113.9"}, want: "10.0.0.1"},
		{name: "untrusted peer ignores X-Forwarded-For", remote: "198.51.100.1:1", xff: []string{"203.0.113.9"}, trusted: proxyCIDRs, want: "198.51.100.1"},
		{name: "untrusted peer ignores Forwarded", remote: "198.51.100.1:1", fwd: []string{"for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "198.51.100.1"},
		{name: "untrusted peer claiming a trusted hop", remote: "198.51.100.1:1", xff: []string{"10.0.0.2"}, trusted: proxyCIDRs, want: "198.51.100.1"},

		// Trusted peer, X-Forwarded-For.
		{name: "XFF single hop", remote: "10.0.0.1:1", xff: []string{"203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF hop with port", remote: "10.0.0.1:1", xff: []string{"203.0.113.9:5555"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF IPv6 hop", remote: "10.0.0.1:1", xff: []string{"2001:db8:1::5"}, trusted: proxyCIDRs, want: "2001:db8:1::5"},
		{name: "XFF bracketed IPv6 hop with port", remote: "10.0.0.1:1", xff: []string{"[2001:db8:1::5]:443"}, trusted: proxyCIDRs, want: "2001:db8:1::5"},
		{name: "XFF 4-in-6 hop is unmapped", remote: "10.0.0.1:1", xff: []string{"::ffff:203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF trusted proxies skipped", remote: "10.0.0.1:1", xff: []string{"203.0.113.9, 10.0.0.3, 10.0.0.2"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF 4-in-6 trusted proxy skipped", remote: "10.0.0.1:1", xff: []string{"203.0.113.9, ::ffff:10.0.0.2"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF client-supplied left entries ignored", remote: "10.0.0.1:1", xff: []string{"1.1.1.1, 2.2.2.2, 203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF spoofed trusted address on the left ignored", remote: "10.0.0.1:1", xff: []string{"10.9.9.9, 203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF multiple header lines", remote: "10.0.0.1:1", xff: []string{"1.1.1.1, 198.51.100.1", "203.0.113.9, 10.0.0.2"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF multiple header lines, right-most line untrusted", remote: "10.0.0.1:1", xff: []string{"203.0.113.9", "198.51.100.1"}, trusted: proxyCIDRs, want: "198.51.100.1"},
		{name: "XFF all trusted gives the left-most", remote: "10.0.0.1:1", xff: []string{"10.0.0.4, 10.0.0.3, 10.0.0.2"}, trusted: proxyCIDRs, want: "10.0.0.4"},
		{name: "XFF unknown hop stops at the proxy that reported it", remote: "10.0.0.1:1", xff: []string{"203.0.113.9, unknown, 10.0.0.2"}, trusted: proxyCIDRs, want: "10.0.0.2"},
		{name: "XFF unknown right-most hop gives the peer", remote: "10.0.0.1:1", xff: []string{"203.0.113.9, unknown"}, trusted: proxyCIDRs, want: "10.0.0.1"},
		{name: "XFF zoned hop is unparseable", remote: "10.0.0.1:1", xff: []string{"[fe80::1%evil]:80"}, trusted: proxyCIDRs, want: "10.0.0.1"},
		{name: "XFF garbage gives the peer", remote: "10.0.0.1:1", xff: []string{"<script>"}, trusted: proxyCIDRs, want: "10.0.0.1"},
		{name: "XFF trusted IPv6 peer", remote: "[2001:db8:ffff::1]:443", xff: []string{"203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF 4-in-6 trusted peer", remote: "[::ffff:10.0.0.1]:80", xff: []string{"203.0.113.9"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "trusted peer without headers", remote: "10.0.0.1:1", trusted: proxyCIDRs, want: "10.0.0.1"},
		{name: "exact-address trusted proxy", remote: "192.0.2.10:1", xff: []string{"203.0.113.9"}, trusted: []string{"192.0.2.10/32"}, want: "203.0.113.9"},
		{name: "neighbour of an exact-address proxy is not trusted", remote: "192.0.2.11:1", xff: []string{"203.0.113.9"}, trusted: []string{"192.0.2.10/32"}, want: "192.0.2.11"},

		// Trusted peer, Forwarded.
		{name: "Forwarded for=", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded quoted IPv6 with port", remote: "10.0.0.1:1", fwd: []string{`for="[2001:db8::1]:4711"`}, trusted: proxyCIDRs, forwarded: true, want: "2001:db8::1"},
		{name: "Forwarded quoted IPv4", remote: "10.0.0.1:1", fwd: []string{`for="203.0.113.9"`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded quoted-pair escapes", remote: "10.0.0.1:1", fwd: []string{`for="\[2001:db8::1\]"`}, trusted: proxyCIDRs, forwarded: true, want: "2001:db8::1"},
		{name: "Forwarded mixed case parameter", remote: "10.0.0.1:1", fwd: []string{"For=203.0.113.9;PROTO=https"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded upper case parameter", remote: "10.0.0.1:1", fwd: []string{"FOR=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded other parameters", remote: "10.0.0.1:1", fwd: []string{"proto=https;for=203.0.113.9;by=203.0.113.43;host=example.com"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded by= is not for=", remote: "10.0.0.1:1", fwd: []string{"by=203.0.113.43;for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded multiple elements", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.1, for=203.0.113.9;by=10.0.0.1, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded multiple header lines", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.1", "for=203.0.113.9, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded quoted comma does not split elements", remote: "10.0.0.1:1", fwd: []string{`for=203.0.113.9;host="a,for=198.51.100.66"`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded quoted semicolon does not split pairs", remote: "10.0.0.1:1", fwd: []string{`host="x;for=198.51.100.66";for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded escaped quote inside a quoted value", remote: "10.0.0.1:1", fwd: []string{`host="a\",for=198.51.100.66";for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded all trusted gives the left-most", remote: "10.0.0.1:1", fwd: []string{"for=10.0.0.3, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.3"},
		{name: "Forwarded unknown stops at the proxy that reported it", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9, for=unknown, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded obfuscated identifier gives the peer", remote: "10.0.0.1:1", fwd: []string{"for=_hidden"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded element without for= gives the peer", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9, proto=https"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded spoofed left elements ignored", remote: "10.0.0.1:1", fwd: []string{"for=1.1.1.1, for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},

		// Forwarded is read from the right, element by element: a client's
		// unclosed quote must not swallow the element a proxy appends.
		{name: "Forwarded unclosed quote before the proxy's element", remote: "10.0.0.1:1", fwd: []string{`for="198.51.100.66";x=", for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded unclosed quote before the proxy's quoted IPv6", remote: "10.0.0.1:1", fwd: []string{`for="198.51.100.66";x=", for="[2001:db8::1]:4711"`}, trusted: proxyCIDRs, forwarded: true, want: "2001:db8::1"},
		{name: "Forwarded unclosed quote before a chain of trusted proxies", remote: "10.0.0.1:1", fwd: []string{`for=198.51.100.66;x=", for=203.0.113.9, for=10.0.0.3, for="[2001:db8:ffff::2]"`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded unclosed quote on the client's own line", remote: "10.0.0.1:1", fwd: []string{`for="198.51.100.66";x="`, "for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded dangling backslash before the proxy's element", remote: "10.0.0.1:1", fwd: []string{`for=198.51.100.66;x="\, for="[2001:db8::1]"`}, trusted: proxyCIDRs, forwarded: true, want: "2001:db8::1"},
		{name: "Forwarded escaped quote keeps a comma inside the value", remote: "10.0.0.1:1", fwd: []string{`for="198.51.100.66\", for=203.0.113.9"`}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded escaped backslash before a closing quote", remote: "10.0.0.1:1", fwd: []string{`for=198.51.100.66;host="a\\", for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded escaped closing quote is unparseable", remote: "10.0.0.1:1", fwd: []string{`for=198.51.100.66, for="203.0.113.9\"`}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded trusted chain over lines", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.1, for=203.0.113.9", "for=10.0.0.3", `for="[2001:db8:ffff::2]:80"`}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded unbalanced quote mid-chain stops at the last trusted hop", remote: "10.0.0.1:1", fwd: []string{`for=198.51.100.66, for="10.0.0.9, for=10.0.0.3, for=10.0.0.2`}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.3"},
		{name: "Forwarded unparseable line stops at the last trusted hop", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66", `for="203.0.113.9`, "for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded duplicate for= stops the walk", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66, for=203.0.113.7;for=203.0.113.9, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded duplicate parameter in other case stops the walk", remote: "10.0.0.1:1", fwd: []string{"proto=http;Proto=https;for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded unquoted port is a bad token", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66, for=203.0.113.9:80, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded unquoted IPv6 is a bad token", remote: "10.0.0.1:1", fwd: []string{"for=2001:db8::1"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded pair without a value", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66, for=, for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded control byte in a quoted value", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66, for=\"203.0.113.9\x01\", for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded empty element stops the walk", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66, , for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded empty line stops the walk", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66", "", "for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.2"},
		{name: "Forwarded spaces around separators", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66 ,for=203.0.113.9 ; proto=https ;by=10.0.0.1 , for=10.0.0.2"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded empty pairs", remote: "10.0.0.1:1", fwd: []string{";for=203.0.113.9;;proto=https;"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},

		// Only the configured header is read: a proxy passes the other one
		// through as the client wrote it.
		{name: "XFF mode ignores a client's Forwarded", remote: "10.0.0.1:1", xff: []string{"203.0.113.9"}, fwd: []string{"for=198.51.100.66"}, trusted: proxyCIDRs, want: "203.0.113.9"},
		{name: "XFF mode with only Forwarded gives the peer", remote: "10.0.0.1:1", fwd: []string{"for=198.51.100.66"}, trusted: proxyCIDRs, want: "10.0.0.1"},
		{name: "Forwarded mode ignores a client's XFF", remote: "10.0.0.1:1", xff: []string{"198.51.100.66"}, fwd: []string{"for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "203.0.113.9"},
		{name: "Forwarded mode with only XFF gives the peer", remote: "10.0.0.1:1", xff: []string{"198.51.100.66"}, trusted: proxyCIDRs, forwarded: true, want: "10.0.0.1"},
		{name: "Forwarded mode, untrusted peer", remote: "198.51.100.1:1", xff: []string{"198.51.100.66"}, fwd: []string{"for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clientIPRequest(tt.remote, tt.xff, tt.fwd)
			p := proxies{trusted: clientIPPrefixes(tt.trusted...), forwarded: tt.forwarded}
			got := p.clientAddr(r)
			require.Equal(t, clientIPWant(tt.want), got, "clientAddr = %v", got)
		})
	}
}

func TestProxiesIsHTTPS(t *testing.T) {
	proxyCIDRs := []string{"10.0.0.0/8"}
	tests := []struct {
		name      string
		remote    string
		tls       bool
		xfp       []string
		fwd       []string
		trusted   []string
		forwarded bool
		want      bool
	}{
		{name: "TLS from an untrusted peer", remote: "203.0.113.7:1", tls: true, want: true},
		{name: "TLS from a trusted peer saying http", remote: "10.0.0.1:1", tls: true, xfp: []string{"http"}, trusted: proxyCIDRs, want: true},
		{name: "plain request", remote: "203.0.113.7:1", want: false},
		{name: "no trusted proxies ignores X-Forwarded-Proto", remote: "10.0.0.1:1", xfp: []string{"https"}, want: false},
		{name: "untrusted peer ignores X-Forwarded-Proto", remote: "203.0.113.7:1", xfp: []string{"https"}, trusted: proxyCIDRs, want: false},
		{name: "untrusted peer ignores Forwarded proto", remote: "203.0.113.7:1", fwd: []string{"proto=https"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "garbage peer ignores X-Forwarded-Proto", remote: "garbage", xfp: []string{"https"}, trusted: proxyCIDRs, want: false},
		{name: "trusted X-Forwarded-Proto https", remote: "10.0.0.1:1", xfp: []string{"https"}, trusted: proxyCIDRs, want: true},
		{name: "trusted X-Forwarded-Proto HTTPS", remote: "10.0.0.1:1", xfp: []string{"HTTPS"}, trusted: proxyCIDRs, want: true},
		{name: "trusted X-Forwarded-Proto http", remote: "10.0.0.1:1", xfp: []string{"http"}, trusted: proxyCIDRs, want: false},
		{name: "trusted X-Forwarded-Proto right-most wins (https)", remote: "10.0.0.1:1", xfp: []string{"http, https"}, trusted: proxyCIDRs, want: true},
		{name: "trusted X-Forwarded-Proto right-most wins (http)", remote: "10.0.0.1:1", xfp: []string{"https, http"}, trusted: proxyCIDRs, want: false},
		{name: "trusted X-Forwarded-Proto over lines", remote: "10.0.0.1:1", xfp: []string{"http", "https"}, trusted: proxyCIDRs, want: true},
		{name: "trusted X-Forwarded-Proto garbage", remote: "10.0.0.1:1", xfp: []string{"httpsx"}, trusted: proxyCIDRs, want: false},
		{name: "trusted peer without headers", remote: "10.0.0.1:1", trusted: proxyCIDRs, want: false},
		{name: "trusted Forwarded proto=https", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9;proto=https"}, trusted: proxyCIDRs, forwarded: true, want: true},
		{name: "trusted Forwarded quoted mixed case", remote: "10.0.0.1:1", fwd: []string{`Proto="HTTPS";for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: true},
		{name: "trusted Forwarded proto=http", remote: "10.0.0.1:1", fwd: []string{"proto=http"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "trusted Forwarded right-most element wins (http)", remote: "10.0.0.1:1", fwd: []string{"proto=https, proto=http"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "trusted Forwarded right-most element wins (https)", remote: "10.0.0.1:1", fwd: []string{"proto=http", "proto=https"}, trusted: proxyCIDRs, forwarded: true, want: true},
		{name: "trusted Forwarded without proto", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded proto of a client's unclosed quote is not the proxy's", remote: "10.0.0.1:1", fwd: []string{`proto=https;x=", for=203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded proxy's proto after a client's unclosed quote", remote: "10.0.0.1:1", fwd: []string{`for=1.1.1.1;x=", for=203.0.113.9;proto=https`}, trusted: proxyCIDRs, forwarded: true, want: true},
		{name: "Forwarded proxy's proto=http after a client's unclosed quote", remote: "10.0.0.1:1", fwd: []string{`proto=https;x=", for=203.0.113.9;proto=http`}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded proto of the client's line under the proxy's", remote: "10.0.0.1:1", fwd: []string{"proto=https", "for=203.0.113.9"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded duplicate proto in the nearest element", remote: "10.0.0.1:1", fwd: []string{"proto=http;proto=https"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded unparseable nearest element", remote: "10.0.0.1:1", fwd: []string{`proto=https;for="203.0.113.9`}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "Forwarded mode ignores X-Forwarded-Proto", remote: "10.0.0.1:1", fwd: []string{"for=203.0.113.9"}, xfp: []string{"https"}, trusted: proxyCIDRs, forwarded: true, want: false},
		{name: "XFF mode ignores Forwarded proto", remote: "10.0.0.1:1", fwd: []string{"proto=https"}, trusted: proxyCIDRs, want: false},
		{name: "XFF mode reads X-Forwarded-Proto next to Forwarded", remote: "10.0.0.1:1", fwd: []string{"proto=http"}, xfp: []string{"https"}, trusted: proxyCIDRs, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clientIPRequest(tt.remote, nil, tt.fwd)
			for _, v := range tt.xfp {
				r.Header.Add("X-Forwarded-Proto", v)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			p := proxies{trusted: clientIPPrefixes(tt.trusted...), forwarded: tt.forwarded}
			require.Equal(t, tt.want, p.isHTTPS(r))
		})
	}
}

// clientIPAppearsIn reports whether some substring of s, or of s with its
// escapes undone, reads as addr: the address is in the input, in whatever
// textual form.
func clientIPAppearsIn(addr netip.Addr, s string) bool {
	for _, text := range []string{s, unescape(s)} {
		for i := 0; i < len(text); i++ {
			for j := i + 1; j <= len(text); j++ {
				if parseHostPort(text[i:j]) == addr {
					return true
				}
			}
		}
	}
	return false
}

// clientIPAppended returns the Forwarded element and the X-Forwarded-For
// entry a proxy writes for a client at the address in hi and lo (IPv6 if v6,
// else IPv4 from lo's low bits), with port unless it is 0, and the address
// they must be read back as. Forwarded quotes IPv6 and ports, as RFC 7239
// requires.
func clientIPAppended(hi, lo uint64, v6 bool, port uint16) (element, entry string, want netip.Addr) {
	var bits [16]byte
	binary.BigEndian.PutUint64(bits[:8], hi)
	binary.BigEndian.PutUint64(bits[8:], lo)
	want = netip.AddrFrom4([4]byte(bits[12:]))
	entry = want.String()
	if v6 {
		want = netip.AddrFrom16(bits)
		entry = "[" + want.String() + "]"
	}
	if port != 0 {
		entry += ":" + itoa(int(port))
	}
	element = "for=" + entry
	if v6 || port != 0 {
		element = `for="` + entry + `"`
	}
	return element, entry, want.Unmap()
}

// clientIPCheckAppended checks that whatever a client sent before them
// (prefix), the element a trusted proxy appends to the same line, or writes
// on a line of its own, is what clientAddr reads, and its proto= (or the
// lack of one) what isHTTPS reads. form picks IPv6 (bit 0), the proxy's own
// line (bit 1) and the proxy's proto= (bits 2–3: none, https, http, HTTPS).
func clientIPCheckAppended(t *testing.T, trusted []netip.Prefix, prefix string, hi, lo uint64, port uint16, form uint8) {
	element, entry, want := clientIPAppended(hi, lo, form&1 != 0, port)
	if inAny(want, trusted) {
		return // the walk would rightly go on into the client's text
	}
	proto := []string{"", "https", "http", "HTTPS"}[form>>2&3]
	if proto != "" {
		element += ";proto=" + proto
	}
	lines := []string{prefix + ", " + element}
	xffLines := []string{prefix + ", " + entry}
	if form&2 != 0 {
		lines = []string{prefix, element}
		xffLines = []string{prefix, entry}
	}
	r := clientIPRequest("10.0.0.1:1", xffLines, lines)
	p := proxies{trusted: trusted, forwarded: true}
	require.Equal(t, want, p.clientAddr(r), "Forwarded %q", lines)
	require.Equal(t, strings.EqualFold(proto, "https"), p.isHTTPS(r), "Forwarded %q", lines)
	p.forwarded = false
	require.Equal(t, want, p.clientAddr(r), "X-Forwarded-For %q", xffLines)
}

func FuzzClientAddr(f *testing.F) {
	seeds := []struct {
		remote, xff, fwd string
		forwarded        bool
	}{
		{"203.0.113.7:1234", "", "", false},
		{"10.0.0.1:1", "203.0.113.9, 10.0.0.2", "", false},
		{"10.0.0.1:1", "1.1.1.1, unknown, 10.0.0.2", "", false},
		{"10.0.0.1:1", "", `for="[2001:db8::1]:4711";proto=https`, true},
		{"10.0.0.1:1", "198.51.100.1", `for=203.0.113.9;host="a,for=198.51.100.66", for=10.0.0.2`, true},
		{"10.0.0.1:1", "198.51.100.1", `for=203.0.113.9`, false},
		{"[2001:db8:ffff::1]:443", "::ffff:203.0.113.9", "", false},
		{"[::ffff:10.0.0.1]:80", "", `for="\[2001:db8::1\]"`, true},
		{"198.51.100.1:1", "203.0.113.9", "for=203.0.113.9", true},
		{"garbage", "203.0.113.9", "", false},
		{"10.0.0.1:1", "10.0.0.3, 10.0.0.2", "", false},
		{"127.0.0.1:1", "[fe80::1%eth0]:80", "", false},
		{"10.0.0.1:1", "", `for="[fe80::1%eth0]:80"`, true},
		{"10.0.0.1:1", "", `for="198.51.100.66";x="`, true},
		{"10.0.0.1:1", "", `for=198.51.100.66;x="\`, true},
		{"10.0.0.1:1", "", `proto=https;x="\\\"`, true},
		{"10.0.0.1:1", "", `for="10.0.0.9, for=10.0.0.3`, true},
	}
	for i, s := range seeds {
		// The client appended after each seed's Forwarded text: 203.0.113.i
		// or 2001:db8::cb00:71i, with and without a port, in every form.
		f.Add(s.remote, s.xff, s.fwd, s.forwarded, uint64(0x20010db8)<<32, uint64(0xcb007100+i), uint16(i%2*4711), uint8(i))
	}
	trusted := clientIPPrefixes("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1/32")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string, forwarded bool, hi, lo uint64, port uint16, form uint8) {
		clientIPCheckAppended(t, trusted, fwd, hi, lo, port, form)
		if len(remote) > 64 || len(xff) > 128 || len(fwd) > 128 {
			return // keeps the substring search below cheap
		}

		var xffLines, fwdLines []string
		if xff != "" {
			xffLines = []string{xff}
		}
		if fwd != "" {
			fwdLines = []string{fwd}
		}
		r := clientIPRequest(remote, xffLines, fwdLines)
		r.Header.Set("X-Forwarded-Proto", xff)
		p := proxies{trusted: trusted, forwarded: forwarded}
		got := p.clientAddr(r)
		https := p.isHTTPS(r)

		peer := parseHostPort(remote)
		if !peer.IsValid() || !inAny(peer, trusted) {
			require.Equal(t, peer, got, "headers from an untrusted peer must be ignored")
			require.False(t, https, "an untrusted peer cannot claim HTTPS")
			return
		}
		if !got.IsValid() || got == peer {
			return
		}
		read := xff // only the configured header may be read
		if forwarded {
			read = fwd
		}
		require.True(t, clientIPAppearsIn(got, read),
			"clientAddr returned %v, which is not in the configured header (XFF %q, Forwarded %q, forwarded %v)",
			got, xff, fwd, forwarded)
	})
}

// TestTrustedProxiesMappedRanges configures proxies in IPv4-mapped IPv6
// form. Peer addresses are always read unmapped, so a mapped range must be
// unmapped too or it would never match; a range reaching beyond the mapped
// space cannot be, and New refuses it.
func TestTrustedProxiesMappedRanges(t *testing.T) {
	const client = "203.0.113.9"
	tests := []struct {
		name    string
		trusted string
		peer    string
		want    string // the client address the session is created with
	}{
		{"IPv4 range", "10.0.0.0/8", "10.1.2.3:5555", client},
		{"mapped range", "::ffff:10.0.0.0/104", "10.1.2.3:5555", client},
		{"mapped range, upper case", "::FFFF:10.0.0.0/104", "10.1.2.3:5555", client},
		{"mapped range with host bits", "::ffff:10.9.9.9/104", "10.1.2.3:5555", client},
		{"mapped range, mapped peer", "::ffff:10.0.0.0/104", "[::ffff:10.1.2.3]:5555", client},
		{"mapped range in hex", "::ffff:a00:0/104", "10.1.2.3:5555", client},
		{"mapped /128", "::ffff:10.1.2.3/128", "10.1.2.3:5555", client},
		{"mapped address", "::ffff:10.1.2.3", "10.1.2.3:5555", client},
		{"the whole mapped space", "::ffff:0.0.0.0/96", "192.0.2.1:5555", client},
		{"mapped range, peer outside", "::ffff:10.0.0.0/104", "11.0.0.1:5555", "11.0.0.1"},
		{"mapped /128, neighbour", "::ffff:10.1.2.3/128", "10.1.2.4:5555", "10.1.2.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, WithTrustedProxies(tt.trusted))
			h.newSession(func(r *http.Request) {
				r.RemoteAddr = tt.peer
				r.Header.Set("X-Forwarded-For", client)
			})
			kinds := h.events.kinds()
			require.Equal(t, []string{"created"}, kinds)
			require.Equal(t, netip.MustParseAddr(tt.want), h.events.list[0].ClientIP)
		})
	}
}

// TestTrustedProxiesRefused lists trusted proxies that could never match a
// peer address, or match other than they say: New refuses each.
func TestTrustedProxiesRefused(t *testing.T) {
	tests := []struct {
		trusted string
		want    string // in the error
	}{
		{"::/0", "IPv4-mapped"},
		{"::/80", "IPv4-mapped"},
		{"::ffff:0:0/95", "IPv4-mapped"},
		{"::fffe:0:0/94", "IPv4-mapped"},
		{"fe80::1%eth0", "zone"},
		{"10.0.0.0/33", "10.0.0.0/33"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.trusted, func(t *testing.T) {
			m, err := New(WithTrustedProxies(tt.trusted))
			if err == nil {
				_ = m.Close()
			}
			require.Error(t, err)
			require.ErrorContains(t, err, "trusted proxy")
			require.ErrorContains(t, err, tt.want)
		})
	}
	for _, ok := range []string{"::1", "2001:db8::/32", "::/96", "::ffff:0:0/96"} {
		t.Run(ok, func(t *testing.T) {
			m, err := New(WithTrustedProxies(ok))
			require.NoError(t, err)
			require.NoError(t, m.Close())
		})
	}
}
