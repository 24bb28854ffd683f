package session

import (
	"iter"
	"net/http"
	"net/netip"
	"strings"
)

// proxies describes the reverse proxies in front of the application: the
// peers that are trusted, and the one header they write. Only that header is
// read: a proxy passes the other one through as the client wrote it, so a
// fallback from one to the other would let a client choose its own address.
type proxies struct {
	trusted   []netip.Prefix
	forwarded bool // RFC 7239 Forwarded, instead of X-Forwarded-For and -Proto
}

// clientAddr returns the address of the client that sent r: RemoteAddr, or,
// when RemoteAddr is a trusted proxy, the right-most entry of the proxies'
// header that is not itself a trusted proxy. Entries to the left of that one
// were written by the client and prove nothing, so they are never read.
// Headers from an untrusted peer are ignored. The zero Addr means the address
// could not be read.
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

// rightmostUntrusted walks hops from the nearest proxy outwards and returns
// the first that is not trusted. A hop that cannot be parsed (such as
// "unknown", or "" for an element that does not parse) stops the walk at the
// trusted proxy that reported it.
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
// through a trusted proxy that says so (the proto= of the right-most
// Forwarded element, or the last X-Forwarded-Proto entry).
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(p.trusted) == 0 || !inAny(parseHostPort(r.RemoteAddr), p.trusted) {
		return false
	}
	proto := ""
	if p.forwarded {
		// Only the nearest proxy's element: a proto= further left was
		// written by someone further away, possibly the client.
		if lines := r.Header.Values("Forwarded"); len(lines) > 0 {
			e, _, _ := lastForwardedElement(lines[len(lines)-1])
			proto = e.proto // "" if the element does not parse
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
// "[::1]:80" (surrounding spaces and quotes allowed); anything else gives
// the zero Addr. IPv4-mapped IPv6 addresses are unmapped, so one client has
// one form.
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

// xForwardedFor yields the comma-separated entries of X-Forwarded-For
// lines, nearest proxy first: last line first, each line from its right.
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
	params          uint8 // the defined parameters seen: paramFor, paramBy, …
}

// The parameters RFC 7239 defines, each of which may occur once per element.
const (
	paramFor uint8 = 1 << iota
	paramBy
	paramHost
	paramProto
)

// forwardedFor yields the for= value of each element of Forwarded header
// lines, nearest proxy first. The first element that does not parse, or has
// no for=, yields "" and ends the walk.
//
// The walk goes right to left because only the right end is known to be
// well-formed: it is what our proxies wrote. A proxy appends its element to
// whatever the client sent, so a client that leaves a quote open (for="a";x=")
// would, read from the left, take the proxy's ", for=<client>" into its own
// quoted string. Read from the right, the proxy's element is parsed from its
// own bytes alone, whatever precedes it, and the client's text is reached
// only after every trusted hop.
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

// lastForwardedElement parses the last element of a Forwarded field value s,
// from its end backwards. It returns the element, the text before the comma
// that precedes it, and whether there is such a comma. An element that does
// not parse (a bad token, an unbalanced quote, a defined parameter twice)
// comes back with no parameters and more false.
//
// Whitespace is allowed around ";" and ",", and empty pairs (";;") are
// skipped, as senders commonly write them; neither can join two elements.
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

// set records the pair key=value, and reports false for a defined parameter
// seen before in the element. Extension parameters are not kept.
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

// valueBefore parses the token or quoted-string that ends at s[end-1] and
// returns where it starts and its value. A quoted-string is found backwards
// from its closing quote to the first quote before it that is not escaped.
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

// escaped reports whether the byte at i is the second of a quoted-pair: it
// follows an odd run of backslashes. Inside a well-formed quoted-string the
// run pairs up from its start, so an even run is all escaped backslashes.
func escaped(s string, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// qdContent reports whether s is the inside of an RFC 9110 quoted-string:
// qdtext and quoted-pairs, no control bytes but HTAB.
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

// tokenStart returns where the run of token characters ending at s[end-1]
// begins (end itself when there is none).
func tokenStart(s string, end int) int {
	for end > 0 && isTchar(s[end-1]) {
		end--
	}
	return end
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// trimOWSRight returns end moved left past spaces and tabs.
func trimOWSRight(s string, end int) int {
	for end > 0 && (s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	return end
}

// unescape undoes quoted-pair escapes (\x becomes x).
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
