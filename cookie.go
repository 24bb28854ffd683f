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

type cookieCodec struct {
	name, path, domain string
	sameSite           http.SameSite
	secure             secureMode
	forceSecure        bool // __Host- and __Secure- names
	persistent         bool
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
		persistent:  c.persistent,
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
// host for a parent domain can come first, so each is tried.
func (cc *cookieCodec) read(r *http.Request) (cookieIDs, RejectReason) {
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

// decode checks one cookie value and returns the ID in it.
func (cc *cookieCodec) decode(value string) (string, RejectReason) {
	if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
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

// set sends the cookie for id, expiring at expires if it is persistent.
func (cc *cookieCodec) set(w http.ResponseWriter, https bool, id string, expires time.Time) error {
	value, err := cc.encode(id)
	if err != nil {
		return err
	}
	if !cc.persistent {
		expires = time.Time{}
	}
	cc.send(w, cc.line(value, expires, false, https))
	return nil
}

func (cc *cookieCodec) expire(w http.ResponseWriter, https bool) {
	cc.send(w, cc.line("", time.Time{}, true, https))
}

// line returns the Set-Cookie value in one allocation. New checked the name,
// path and domain, and the value is base64, so none needs escaping.
func (cc *cookieCodec) line(value string, expires time.Time, remove, https bool) string {
	var b strings.Builder
	b.Grow(96 + len(cc.name) + len(value) + len(cc.path) + len(cc.domain))
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
	return b.String()
}

// noCacheSetCookie keeps shared caches from storing a Set-Cookie.
const noCacheSetCookie = `no-cache="Set-Cookie"`

func (cc *cookieCodec) send(w http.ResponseWriter, line string) {
	h := w.Header()
	cookies, cacheControl := h["Set-Cookie"], h["Cache-Control"]
	if cookies == nil && cacheControl == nil {
		// One allocation for both; capped, so that an append copies.
		both := []string{line, noCacheSetCookie}
		h["Set-Cookie"], h["Cache-Control"] = both[0:1:1], both[1:2:2]
		return
	}
	h["Set-Cookie"] = append(cookies, line)
	h["Cache-Control"] = append(cacheControl, noCacheSetCookie)
}
