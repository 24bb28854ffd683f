package session

import (
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
		return rightmostUntrusted(peer, forwardedParam(r.Header.Values("Forwarded"), "for"), p.trusted)
	}
	return rightmostUntrusted(peer, xForwardedFor(r.Header.Values("X-Forwarded-For")), p.trusted)
}

// rightmostUntrusted walks hops from the nearest proxy outwards and returns
// the first that is not trusted. A hop that cannot be parsed (such as
// "unknown") stops the walk at the trusted proxy that reported it.
func rightmostUntrusted(peer netip.Addr, hops []string, trusted []netip.Prefix) netip.Addr {
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseHostPort(hops[i])
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
// through a trusted proxy that says so (the last proto= of Forwarded, or the
// last X-Forwarded-Proto entry).
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(p.trusted) == 0 || !inAny(parseHostPort(r.RemoteAddr), p.trusted) {
		return false
	}
	var protos []string
	if p.forwarded {
		protos = forwardedParam(r.Header.Values("Forwarded"), "proto")
	} else {
		protos = xForwardedFor(r.Header.Values("X-Forwarded-Proto"))
	}
	return len(protos) > 0 && strings.EqualFold(protos[len(protos)-1], "https")
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

// xForwardedFor splits comma-separated header lines (X-Forwarded-For or
// X-Forwarded-Proto) into entries, in order.
func xForwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, part := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// forwardedParam returns the value of param in each element of Forwarded
// header lines, in order, "" where an element lacks it. Quoted values may
// contain commas and semicolons.
func forwardedParam(lines []string, param string) []string {
	var out []string
	for _, line := range lines {
		for _, element := range splitQuoted(line, ',') {
			value := ""
			for _, pair := range splitQuoted(element, ';') {
				k, v, ok := strings.Cut(pair, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), param) {
					value = unquote(strings.TrimSpace(v))
				}
			}
			out = append(out, value)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	inQuotes, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inQuotes:
			escaped = true
		case c == '"':
			inQuotes = !inQuotes
		case c == sep && !inQuotes:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote removes the quotes and backslash escapes of a quoted-string; an
// unquoted token is returned as it is.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	return unescape(s[1 : len(s)-1])
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
