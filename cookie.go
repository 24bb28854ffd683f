package session

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

const (
	// maxCookieCandidates bounds the distinct IDs one request makes us look
	// up. Malformed values and repeats cost no lookup and do not count, or
	// junk cookies tossed from a sibling host could hide the owner's.
	maxCookieCandidates = 4
	// maxSignatureChecks bounds the signed cookies one request makes us
	// verify; far above what a sibling host can make a browser send (about
	// two matching paths per segment of the request's path).
	maxSignatureChecks = 32
)

// cookieCodec reads the ID from requests and sends it in responses: in a
// cookie, or with WithTokenHeader in a header (the transport seam: load and
// commit call read, set and expire whichever it is).
type cookieCodec struct {
	// name is the cookie's, or the header's in canonical form; a signature
	// is bound to it.
	name, path, domain string
	header             bool   // the ID travels in the header name, not a cookie
	vary               string // the request field that responses vary by
	noCache            string // the cache directive sent with an ID
	sameSite           http.SameSite
	secure             secureMode
	forceSecure        bool // __Host- and __Secure- names
	partitioned        bool
	signers            []securecookie.Codec // nil: unsigned
}

func newCookieCodec(c *config) *cookieCodec {
	cc := &cookieCodec{
		name:        c.cookieName,
		path:        c.cookiePath,
		domain:      c.cookieDomain,
		sameSite:    c.sameSite,
		secure:      c.secure,
		forceSecure: strings.HasPrefix(c.cookieName, "__Host-") || strings.HasPrefix(c.cookieName, "__Secure-"),
		partitioned: c.partitioned,
		vary:        "Cookie",
		noCache:     noCacheSetCookie,
	}
	if c.tokenHeaderSet {
		cc.name, cc.header = http.CanonicalHeaderKey(c.tokenHeader), true
		cc.vary, cc.noCache = cc.name, `no-cache="`+cc.name+`"`
	}
	for _, key := range c.signingKeys {
		s := securecookie.New(key, nil)
		s.SetSerializer(securecookie.NopEncoder{})
		s.MaxAge(0) // the manager's timeouts govern a session's life
		cc.signers = append(cc.signers, s)
	}
	return cc
}

// cookieIDs are the distinct usable IDs of a request, in the browser's order.
type cookieIDs struct {
	ids    [maxCookieCandidates]string
	n      int
	copies int // cookies of our name examined, usable or not, repeats included
}

// read returns the usable IDs of r's cookies of our name, and why one was
// refused if none is usable. There may be several: some tossed by a sibling
// host for a parent domain can come first, so each is tried. With the header
// transport, see readHeader.
func (cc *cookieCodec) read(r *http.Request) (cookieIDs, RejectReason) {
	if cc.header {
		return cc.readHeader(r)
	}
	var found cookieIDs
	reason := RejectReason(0)
	checks := 0
	for _, line := range r.Header["Cookie"] {
		for line != "" && found.n < maxCookieCandidates && checks < maxSignatureChecks {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != cc.name {
				continue
			}
			found.copies++
			if cc.signers != nil {
				checks++
			}
			id, why := cc.decode(value)
			if why != 0 {
				reason = why
				continue
			}
			if !slices.Contains(found.ids[:found.n], id) {
				found.ids[found.n] = id
				found.n++
			}
		}
	}
	if found.n > 0 {
		reason = 0 // a junk copy beside a usable cookie is not worth a rejection
	}
	return found, reason
}

// readHeader returns the ID in r's header of our name. No one can toss a
// header, so exactly one value is read, as sent: several values, like a
// malformed one, are refused (and count as one copy, so that the response
// tells the client to drop its token). An empty value, which is what the
// client was sent when its session ended, counts as none.
func (cc *cookieCodec) readHeader(r *http.Request) (cookieIDs, RejectReason) {
	var found cookieIDs
	values := r.Header[cc.name]
	if len(values) == 0 || len(values) == 1 && values[0] == "" {
		return found, 0
	}
	found.copies = 1
	if len(values) > 1 {
		return found, RejectMalformedCookie
	}
	id, why := cc.verify(values[0])
	if why != 0 {
		return found, why
	}
	found.ids[0], found.n = id, 1
	return found, 0
}

// decode checks one cookie value and returns the ID in it.
func (cc *cookieCodec) decode(value string) (string, RejectReason) {
	if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return cc.verify(value)
}

// verify checks a value as encode makes it and returns the ID in it.
func (cc *cookieCodec) verify(value string) (string, RejectReason) {
	if cc.signers == nil {
		if !wellFormedID(value) {
			return "", RejectMalformedCookie
		}
		return value, 0
	}
	var raw []byte
	if err := securecookie.DecodeMulti(cc.name, value, &raw, cc.signers...); err != nil {
		if isMACError(err) && signedShape(value) {
			return "", RejectBadSignature
		}
		return "", RejectMalformedCookie
	}
	if !wellFormedID(string(raw)) {
		return "", RejectMalformedCookie
	}
	return string(raw), 0
}

// signedShape reports whether value could carry a signature (non-empty
// base64url): anything else is malformed, not badly signed.
func signedShape(value string) bool {
	n, err := base64.URLEncoding.Decode(make([]byte, base64.URLEncoding.DecodedLen(len(value))), []byte(value))
	return err == nil && n > 0
}

func isMACError(err error) bool {
	var multi securecookie.MultiError
	if errors.As(err, &multi) {
		for _, e := range multi {
			if errors.Is(e, securecookie.ErrMacInvalid) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, securecookie.ErrMacInvalid)
}

func (cc *cookieCodec) encode(id string) (string, error) {
	if cc.signers == nil {
		return id, nil
	}
	return securecookie.EncodeMulti(cc.name, []byte(id), cc.signers[0])
}

// set sends the cookie for id, expiring at expires, or a browser-session
// cookie when expires is zero. With the header transport it sends id in the
// header, and expires has no meaning.
func (cc *cookieCodec) set(w http.ResponseWriter, https bool, id string, expires time.Time) error {
	value, err := cc.encode(id)
	if err != nil {
		return err
	}
	if cc.header {
		cc.send(w, value)
		return nil
	}
	cc.send(w, cc.line(value, expires, false, https))
	return nil
}

// expire sends the cookie that removes ours, or with the header transport an
// empty header.
func (cc *cookieCodec) expire(w http.ResponseWriter, https bool) {
	if cc.header {
		cc.send(w, "")
		return
	}
	cc.send(w, cc.line("", time.Time{}, true, https))
}

// line returns the Set-Cookie value in one allocation. New checked the name,
// path and domain, and the value is base64, so none needs escaping.
func (cc *cookieCodec) line(value string, expires time.Time, remove, https bool) string {
	var b strings.Builder
	b.Grow(104 + len(cc.name) + len(value) + len(cc.path) + len(cc.domain))
	b.WriteString(cc.name)
	b.WriteByte('=')
	b.WriteString(value)
	b.WriteString("; Path=")
	b.WriteString(cc.path)
	if cc.domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(strings.TrimPrefix(cc.domain, "."))
	}
	if !expires.IsZero() {
		var date [len(http.TimeFormat) + 8]byte
		b.WriteString("; Expires=")
		b.Write(expires.UTC().AppendFormat(date[:0], http.TimeFormat))
	}
	if remove {
		b.WriteString("; Max-Age=0")
	}
	b.WriteString("; HttpOnly")
	if cc.forceSecure || cc.secure == secureAlways || (cc.secure == secureAuto && https) {
		b.WriteString("; Secure")
	}
	switch cc.sameSite {
	case http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	}
	if cc.partitioned {
		b.WriteString("; Partitioned")
	}
	return b.String()
}

// noCacheSetCookie keeps shared caches from storing a Set-Cookie.
const noCacheSetCookie = `no-cache="Set-Cookie"`

// send adds value, a Set-Cookie line or the header transport's token, to the
// response with the directive that keeps shared caches from replaying it to
// another client. The token header holds one value: a later one replaces it,
// as it replaces any the handler set.
func (cc *cookieCodec) send(w http.ResponseWriter, value string) {
	h := w.Header()
	field, values := "Set-Cookie", h["Set-Cookie"]
	if cc.header {
		field, values = cc.name, nil
	}
	cacheControl := h["Cache-Control"]
	if values == nil && cacheControl == nil {
		// One allocation for both; capped, so that an append copies.
		both := []string{value, cc.noCache}
		h[field], h["Cache-Control"] = both[0:1:1], both[1:2:2]
		return
	}
	h[field] = append(values, value)
	h["Cache-Control"] = append(cacheControl, cc.noCache)
}
