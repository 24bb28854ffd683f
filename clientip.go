package session

import (
	"iter"
	"net/http"
	"net/netip"
	"strings"
)

// proxies are the trusted reverse proxies and the one header they write.
// Only that header is read: a proxy passes the other through as the client
// wrote it, so a fallback would let a client choose its own address.
type proxies struct {
	trusted   []netip.Prefix
	forwarded bool // RFC 7239 Forwarded, instead of X-Forwarded-For and -Proto
}

// clientAddr returns RemoteAddr or, when that is a trusted proxy, the
// right-most entry of the proxies' header that is not a trusted proxy:
// entries left of it were written by the client and prove nothing. The zero
// Addr means the address could not be read.
func (p proxies) clientAddr(r *http.Request) netip.Addr {
	peer := parseHostPort(r.RemoteAddr)
	if !peer.IsValid() || !inAny(peer, p.trusted) {
		return peer
	}
	if p.forwarded {
		return rightmostUntrusted(peer, forwardedFor(r.Header.Values("Forwarded")), p.trusted)
	}
	return rightmostUntrusted(peer, xForwardedFor(r.Header.Values("X-Forwarded-For")), p.trusted)
}

// rightmostUntrusted returns the first of hops, nearest first, that is not
// trusted. A hop that does not parse ("unknown", or "" for a bad element)
// stops the walk at the trusted proxy that reported it.
func rightmostUntrusted(peer netip.Addr, hops iter.Seq[string], trusted []netip.Prefix) netip.Addr {
	addr := peer
	for h := range hops {
		hop := parseHostPort(h)
		if !hop.IsValid() {
			return addr
		}
		addr = hop
		if !inAny(hop, trusted) {
			return hop
		}
	}
	return addr
}

// isHTTPS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so.
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(p.trusted) == 0 || !inAny(parseHostPort(r.RemoteAddr), p.trusted) {
		return false
	}
	proto := ""
	if p.forwarded {
		// Only the nearest proxy's element: one further left may be the client's.
		if lines := r.Header.Values("Forwarded"); len(lines) > 0 {
			e, _, _ := lastForwardedElement(lines[len(lines)-1])
			proto = e.proto
		}
	} else if lines := r.Header.Values("X-Forwarded-Proto"); len(lines) > 0 {
		last := lines[len(lines)-1]
		proto = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
	}
	return strings.EqualFold(proto, "https")
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostPort reads "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or
// "[::1]:80", maybe quoted; anything else gives the zero Addr. IPv4-mapped
// addresses are unmapped, so one client has one form.
func parseHostPort(s string) netip.Addr {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if s == "" {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Addr().Zone() != "" {
			return netip.Addr{} // a zoned address matches no prefix
		}
		return ap.Addr().Unmap()
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// xForwardedFor yields the entries of X-Forwarded-For lines, nearest first.
func xForwardedFor(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			line := lines[i]
			for {
				j := strings.LastIndexByte(line, ',')
				if !yield(strings.TrimSpace(line[j+1:])) {
					return
				}
				if j < 0 {
					break
				}
				line = line[:j]
			}
		}
	}
}

// forwardedElement is what one RFC 7239 forwarded-element says.
type forwardedElement struct {
	forValue, proto string
	params          uint8 // the defined parameters seen, each allowed once
}

const (
	paramFor uint8 = 1 << iota
	paramBy
	paramHost
	paramProto
)

// forwardedFor yields the for= of each Forwarded element, nearest first. An
// element that does not parse, or has no for=, yields "" and ends the walk.
//
// Parsing goes right to left because only the right end, which our proxies
// wrote, is known to be well-formed: read from the left, a client that left
// a quote open (for="a";x=") would swallow the proxy's ", for=<client>".
func forwardedFor(lines []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			rest, more := lines[i], true
			for more {
				var e forwardedElement
				e, rest, more = lastForwardedElement(rest)
				if e.params&paramFor == 0 {
					yield("")
					return
				}
				if !yield(e.forValue) {
					return
				}
			}
		}
	}
}

// lastForwardedElement parses the last element of s backwards and returns
// it, the text before its comma, and whether there is one. An element that
// does not parse (bad token, unbalanced quote, repeated parameter) comes back
// empty with more false. Whitespace around ";" and "," and empty pairs are
// tolerated, as senders write them; neither can join two elements.
func lastForwardedElement(s string) (e forwardedElement, rest string, more bool) {
	i := len(s)
	for {
		i = trimOWSRight(s, i)
		if i == 0 {
			return e, "", false
		}
		switch s[i-1] {
		case ',':
			return e, s[:i-1], true
		case ';':
			i--
			continue
		}
		start, value, ok := valueBefore(s, i)
		if !ok || start == 0 || s[start-1] != '=' {
			return forwardedElement{}, "", false
		}
		k := tokenStart(s, start-1)
		if k == start-1 || !e.set(s[k:start-1], value) {
			return forwardedElement{}, "", false
		}
		i = trimOWSRight(s, k)
		if i > 0 && s[i-1] != ';' && s[i-1] != ',' {
			return forwardedElement{}, "", false
		}
	}
}

// set records key=value, and reports false for a defined parameter seen
// before. Extension parameters are ignored.
func (e *forwardedElement) set(key, value string) bool {
	var bit uint8
	switch {
	case strings.EqualFold(key, "for"):
		bit, e.forValue = paramFor, value
	case strings.EqualFold(key, "proto"):
		bit, e.proto = paramProto, value
	case strings.EqualFold(key, "by"):
		bit = paramBy
	case strings.EqualFold(key, "host"):
		bit = paramHost
	default:
		return true
	}
	if e.params&bit != 0 {
		return false
	}
	e.params |= bit
	return true
}

// valueBefore parses the token or quoted-string that ends at s[end-1]; a
// quoted-string opens at the first unescaped quote before its closing one.
func valueBefore(s string, end int) (start int, value string, ok bool) {
	if s[end-1] != '"' {
		start = tokenStart(s, end)
		return start, s[start:end], start < end
	}
	closing := end - 1
	if escaped(s, closing) {
		return 0, "", false // the value's last quote is part of it: unterminated
	}
	for open := closing - 1; open >= 0; open-- {
		if s[open] == '"' && !escaped(s, open) {
			content := s[open+1 : closing]
			if !qdContent(content) {
				return 0, "", false
			}
			return open, unescape(content), true
		}
	}
	return 0, "", false
}

// escaped reports whether s[i] follows an odd run of backslashes, which in a
// well-formed quoted-string pair up from its start.
func escaped(s string, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// qdContent reports whether s is the inside of an RFC 9110 quoted-string.
func qdContent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i == len(s) {
				return false
			}
			c = s[i]
		} else if c == '"' {
			return false
		}
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// tokenStart returns where the token ending at s[end-1] begins; end if none.
func tokenStart(s string, end int) int {
	for end > 0 && isTchar(s[end-1]) {
		end--
	}
	return end
}

func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func trimOWSRight(s string, end int) int {
	for end > 0 && (s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	return end
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
