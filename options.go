package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Defaults of the options; see each option.
const (
	DefaultCookieName      = "session"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	// DefaultRotationGrace is the grace period of renewals made by
	// [WithRotation] (or [WithRenewGrace]'s, if longer): long enough for the
	// requests a page fires at once to carry the old ID and still succeed.
	DefaultRotationGrace = 5 * time.Second
	// DefaultMaxSessionBytes is the default of [WithMaxSessionBytes]: 64 KiB
	// of keys and encoded values, far more than a login, a cart and a few
	// preferences take, and small enough that no session makes every
	// request that loads it from Redis or PostgreSQL slow.
	DefaultMaxSessionBytes = 64 << 10
	minSigningKeyLen       = 32
)

// Option configures a Manager in [New]. Options only record what they are
// given; New checks the whole configuration and returns an error for a bad
// one.
type Option func(*config)

// secureMode is how the Secure cookie attribute is chosen.
type secureMode int

const (
	secureAuto secureMode = iota // when the request came over TLS
	secureAlways
	secureNever
)

// config is a Manager's configuration; defaultConfig sets every default.
type config struct {
	store            Store
	cookieName       string
	cookiePath       string
	cookieDomain     string
	sameSite         http.SameSite
	secure           secureMode
	persistent       bool
	partitioned      bool
	noStore          bool
	tokenHeader      string
	tokenHeaderSet   bool // WithTokenHeader was given, even with ""
	idleTimeout      time.Duration
	absoluteTimeout  time.Duration
	touchInterval    time.Duration // 0: a tenth of idleTimeout
	v4Bits, v6Bits   int           // 0: no IP binding
	trustedProxies   []string
	proxyHeader      string
	signingKeys      [][]byte
	signingSet       bool // WithSigningKeys was given, even with no keys
	idGenerator      IDGenerator
	renewGrace       time.Duration
	rotation         time.Duration
	maxPerUser       int
	maxSessionBytes  int
	rememberIdle     time.Duration // 0: remembered sessions keep the normal timeouts
	rememberAbsolute time.Duration
	rememberSet      bool // WithRememberMe was given
	hooks            Hooks
	logger           *slog.Logger
	errorHandler     func(http.ResponseWriter, *http.Request, error)
	clock            func() time.Time
	codec            Codec
	ipBindingChanged bool
}

func defaultConfig() config {
	return config{
		cookieName:      DefaultCookieName,
		cookiePath:      "/",
		proxyHeader:     "X-Forwarded-For",
		sameSite:        http.SameSiteLaxMode,
		idleTimeout:     DefaultIdleTimeout,
		absoluteTimeout: DefaultAbsoluteTimeout,
		idGenerator:     RandomIDGenerator{},
		clock:           time.Now,
		codec:           DefaultCodec{},
		maxSessionBytes: DefaultMaxSessionBytes,
	}
}

// WithStore sets the store. The default is a [MemoryStore] that
// [Manager.Close] closes; a store given here is not closed by the Manager.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithCookieName sets the cookie's name (default "session"), such as
// "JSESSIONID" or "PHPSESSID". A name starting with "__Host-" makes the cookie
// Secure, with Path=/ and no Domain, so that no other host or path can set
// or shadow it; "__Secure-" makes it Secure.
func WithCookieName(name string) Option { return func(c *config) { c.cookieName = name } }

// WithCookiePath sets the cookie's Path (default "/").
func WithCookiePath(path string) Option { return func(c *config) { c.cookiePath = path } }

// WithCookieDomain sets the cookie's Domain. The default, none, sends the
// cookie back only to the host that set it, which is the safer choice.
func WithCookieDomain(domain string) Option { return func(c *config) { c.cookieDomain = domain } }

// WithSameSite sets the cookie's SameSite attribute (default Lax). None
// requires a cookie that is always Secure.
func WithSameSite(s http.SameSite) Option { return func(c *config) { c.sameSite = s } }

// WithSecure forces the cookie's Secure attribute on or off. By default the
// cookie is Secure whenever the request came over TLS or a trusted proxy
// ([WithTrustedProxies]) says it did.
func WithSecure(secure bool) Option {
	return func(c *config) {
		c.secure = secureNever
		if secure {
			c.secure = secureAlways
		}
	}
}

// WithPersistentCookie makes the cookie outlive the browser (default false:
// a browser-session cookie). A persistent cookie expires with the session and
// is sent again whenever the session's idle deadline moves.
func WithPersistentCookie(persistent bool) Option {
	return func(c *config) { c.persistent = persistent }
}

// WithPartitioned gives the cookie the Partitioned attribute (CHIPS), on
// every Set-Cookie the manager writes, the removing one included (default
// false). A browser then keeps a separate cookie for each top-level site the
// application is embedded in, so that an embedded widget keeps its session
// where third-party cookies are blocked; such a cookie usually needs
// [WithSameSite](http.SameSiteNoneMode) as well. Browsers require a
// Partitioned cookie to be Secure: [New] refuses it unless the cookie always
// is ([WithSecure](true), or a "__Host-" or "__Secure-" name).
func WithPartitioned(partitioned bool) Option {
	return func(c *config) { c.partitioned = partitioned }
}

// WithIdleTimeout sets how long a session lives without a request (default
// 30 minutes). Since a read-only request pushes the idle deadline only once
// per touch interval ([WithTouchInterval]), each push sets it the idle timeout
// plus the touch interval ahead: a session lives at least d after its last
// request, and at most d plus the touch interval.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idleTimeout = d } }

// WithAbsoluteTimeout sets how long a session lives at most, however active
// (default 12 hours).
func WithAbsoluteTimeout(d time.Duration) Option {
	return func(c *config) { c.absoluteTimeout = d }
}

// WithIPBinding binds each session to the network prefix of the client that
// created it: a request from outside the prefix does not get the session. 32
// and 128 bind to the exact address; 24 and 64 tolerate address changes
// inside one network. The default is no binding. See the package
// documentation for its limits (NAT, mobile networks).
func WithIPBinding(v4PrefixBits, v6PrefixBits int) Option {
	return func(c *config) {
		c.v4Bits, c.v6Bits, c.ipBindingChanged = v4PrefixBits, v6PrefixBits, true
	}
}

// WithTrustedProxies lists the addresses or CIDR prefixes of reverse proxies
// whose forwarding header ([WithProxyHeader]) is believed, for the client's
// address and for whether it used https. IPv4 given in IPv4-mapped IPv6 form
// (::ffff:10.0.0.0/104) is read as IPv4 (10.0.0.0/8); New refuses a range
// that holds all of the mapped space and more (such as ::/0). The default is
// none: such headers are ignored, and the client is RemoteAddr.
func WithTrustedProxies(cidrs ...string) Option {
	return func(c *config) { c.trustedProxies = append(c.trustedProxies, cidrs...) }
}

// WithProxyHeader names the header the trusted proxies write: either
// "X-Forwarded-For" (the default, with X-Forwarded-Proto for the scheme) or
// "Forwarded" (RFC 7239, for= and proto=). Only that header is read. The
// proxies must append to it (or overwrite it), never pass a client's copy
// through alone.
func WithProxyHeader(name string) Option {
	return func(c *config) { c.proxyHeader = http.CanonicalHeaderKey(name) }
}

// WithSigningKeys makes the cookie carry the ID signed with HMAC-SHA256, so
// that forged cookies are refused without a store lookup. The first key
// signs; every key verifies, so keys can be rotated without logging anyone
// out. Each key must be at least 32 bytes. The default is unsigned: the ID's
// 256 random bits are what protect it.
func WithSigningKeys(keys ...[]byte) Option {
	return func(c *config) { c.signingKeys, c.signingSet = keys, true }
}

// WithIDGenerator replaces the ID generator (default [RandomIDGenerator]).
func WithIDGenerator(g IDGenerator) Option { return func(c *config) { c.idGenerator = g } }

// WithRenewGrace lets an ID replaced by [Session.Renew] (or by [WithRotation],
// whose grace is at least [DefaultRotationGrace]) keep working for d, only as
// a pointer to the renewed session (the client is sent the new ID again), so
// that requests already in flight are not lost. After d the old ID is
// rejected as stale. [Session.Login] ignores it: the ID from before a login is
// dead at once, or whoever planted it would reach the logged-in session.
// Default 0.
func WithRenewGrace(d time.Duration) Option { return func(c *config) { c.renewGrace = d } }

// WithRotation renews every session's ID once it is older than every, with a
// grace period of [DefaultRotationGrace]. Default 0: no rotation.
func WithRotation(every time.Duration) Option { return func(c *config) { c.rotation = every } }

// WithTouchInterval sets how often a read-only request pushes the session's
// idle deadline to the store (default: a tenth of the idle timeout). It is
// also how much longer than the idle timeout a session may live (see
// [WithIdleTimeout]).
func WithTouchInterval(d time.Duration) Option { return func(c *config) { c.touchInterval = d } }

// WithMaxSessionsPerUser limits how many sessions one user may have: each
// [Session.Login] keeps the user's n sessions whose IDs were issued last (at
// login, or at a later renewal) and ends the others, so the n+1-th Login ends
// the oldest. Two Logins that race rank the sessions alike, and the later one
// stays. The store must implement [UserIndex]. Default 0: no limit.
func WithMaxSessionsPerUser(n int) Option { return func(c *config) { c.maxPerUser = n } }

// WithRememberMe sets the timeouts of remembered sessions
// ([Session.RememberMe]): they end idle after being unused for idle, and
// absolute after creation however active, where other sessions follow
// [WithIdleTimeout] and [WithAbsoluteTimeout]. A remembered session's cookie
// is persistent. Default: remembered sessions keep the normal timeouts, and
// only their cookie is persistent. [New] checks the two like those of
// [WithIdleTimeout] and [WithAbsoluteTimeout].
func WithRememberMe(idle, absolute time.Duration) Option {
	return func(c *config) { c.rememberIdle, c.rememberAbsolute, c.rememberSet = idle, absolute, true }
}

// WithMaxSessionBytes bounds the size of a session's values: the lengths of
// its keys and of their encoded values, added up. A [Session.Set] that would
// take the session past n bytes fails with an error wrapping [ErrTooLarge]
// and changes nothing. Default [DefaultMaxSessionBytes]; 0 means no limit.
// Values stored before a lower limit was set are kept; only a Set is
// checked.
func WithMaxSessionBytes(n int) Option { return func(c *config) { c.maxSessionBytes = n } }

// WithTokenHeader makes the ID travel in the header called name instead of
// a cookie, for API and mobile clients that keep the token themselves. The
// manager reads the ID from exactly one value of that header (several
// values, like a malformed one, are refused without a store lookup; an empty
// one counts as none), and sends a new or renewed ID in a response header of
// the same name, where the cookie transport would send a Set-Cookie: an empty
// value tells the client its session ended ([Session.Invalidate], or an ID
// that can never work again). No cookie is read or written, and responses
// vary by name instead of Cookie. Strict mode, renewal, timeouts, IP binding
// and [WithSigningKeys] (the header then carries the signed form) work as
// with cookies. [New] refuses a name that is not a valid header name or that
// HTTP or this package gives a meaning (Cookie, Set-Cookie, Authorization,
// Connection, Cache-Control, Vary, X-Forwarded-For, …), and refuses the
// cookie options beside it. The default is the cookie transport.
//
// A token kept by a script is readable by any script in the page: this is
// for clients that are not browsers, and no defence against cross-site
// scripting.
func WithTokenHeader(name string) Option {
	return func(c *config) { c.tokenHeader, c.tokenHeaderSet = name, true }
}

// WithNoStore makes every response of a request that has a session
// "Cache-Control: no-store", so that no cache, the browser's included, keeps
// a page made for one user: the back button after a checkout or a logout
// shows no old cart (default false). A request has a session when it came
// with a live one, even if it ended it ([Session.Invalidate]: the page after
// a logout is not cached either), or when it created one. The header is set
// as the response starts and replaces any Cache-Control the handler set,
// since no-store makes every other directive moot. Responses of requests
// without a session are left alone.
func WithNoStore(noStore bool) Option { return func(c *config) { c.noStore = noStore } }

// WithHooks sets callbacks on session events (default none).
func WithHooks(h Hooks) Option { return func(c *config) { c.hooks = h } }

// WithLogger sets the logger for warnings and errors (default
// [slog.Default]). Log records never contain a raw ID.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithErrorHandler sets what answers a request when the session cannot be
// loaded or saved (default: 500 with a plain-text body, logged). The
// application's handler does not run, or its response is discarded, so it
// never works on a silently empty session.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return func(c *config) { c.errorHandler = h }
}

// WithClock sets the manager's clock (default [time.Now]). Timeouts are
// enforced with it, whatever the store does.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithCodec sets how values are encoded for the store (default
// [DefaultCodec]).
func WithCodec(codec Codec) Option { return func(c *config) { c.codec = codec } }

// validate returns every problem with c, joined.
func (c *config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("session: "+format, args...)) }
	c.validateCookie(add)
	c.validateTokenHeader(add)
	if c.idleTimeout <= 0 {
		add("idle timeout must be positive, got %v", c.idleTimeout)
	}
	if c.absoluteTimeout <= 0 {
		add("absolute timeout must be positive, got %v", c.absoluteTimeout)
	}
	if c.idleTimeout > c.absoluteTimeout {
		add("idle timeout %v is longer than absolute timeout %v", c.idleTimeout, c.absoluteTimeout)
	}
	if c.touchInterval < 0 || (c.touchInterval > 0 && c.touchInterval >= c.idleTimeout) {
		add("touch interval %v must be positive and shorter than the idle timeout", c.touchInterval)
	}
	if c.rememberSet && (c.rememberIdle <= 0 || c.rememberAbsolute <= 0 || c.rememberIdle > c.rememberAbsolute) {
		add("remember-me timeouts must be positive, the idle one no longer than the absolute one, got %v and %v",
			c.rememberIdle, c.rememberAbsolute)
	}
	if c.renewGrace < 0 || c.rotation < 0 {
		add("renew grace and rotation must not be negative")
	}
	if c.ipBindingChanged && (c.v4Bits < 1 || c.v4Bits > 32 || c.v6Bits < 1 || c.v6Bits > 128) {
		add("IP binding prefixes must be 1–32 (IPv4) and 1–128 (IPv6) bits, got %d and %d", c.v4Bits, c.v6Bits)
	}
	if c.proxyHeader != "X-Forwarded-For" && c.proxyHeader != "Forwarded" {
		add("proxy header %q must be X-Forwarded-For or Forwarded", c.proxyHeader)
	}
	for _, p := range c.trustedProxies {
		if _, err := parsePrefix(p); err != nil {
			add("trusted proxy %q: %v", p, err)
		}
	}
	for i, k := range c.signingKeys {
		if len(k) < minSigningKeyLen {
			add("signing key %d is %d bytes; at least %d are needed", i, len(k), minSigningKeyLen)
		}
	}
	if c.signingSet && len(c.signingKeys) == 0 {
		add("WithSigningKeys needs at least one key")
	}
	if c.maxSessionBytes < 0 {
		add("max session bytes must not be negative")
	}
	if c.maxPerUser < 0 {
		add("max sessions per user must not be negative")
	}
	if c.idGenerator == nil || c.clock == nil || c.codec == nil {
		add("ID generator, clock and codec must not be nil")
	}
	return errors.Join(errs...)
}

func (c *config) validateCookie(add func(format string, args ...any)) {
	if !isToken(c.cookieName) {
		add("cookie name %q is not a valid token", c.cookieName)
	}
	if c.cookieDomain != "" && !isDomain(c.cookieDomain) {
		add("cookie domain %q is not a valid domain", c.cookieDomain)
	}
	if !strings.HasPrefix(c.cookiePath, "/") || strings.ContainsAny(c.cookiePath, ";\x00\r\n\t ") {
		add("cookie path %q must start with / and hold no ; or spaces", c.cookiePath)
	}
	hostPrefix := strings.HasPrefix(c.cookieName, "__Host-")
	securePrefix := hostPrefix || strings.HasPrefix(c.cookieName, "__Secure-")
	if hostPrefix && (c.cookieDomain != "" || c.cookiePath != "/") {
		add("a __Host- cookie must have Path=/ and no Domain")
	}
	if securePrefix && c.secure == secureNever {
		add("a %s cookie must be Secure", c.cookieName)
	}
	if c.sameSite == http.SameSiteNoneMode && c.secure != secureAlways && !securePrefix {
		add("SameSite=None needs WithSecure(true): browsers drop such cookies otherwise")
	}
	if c.partitioned && c.secure != secureAlways && !securePrefix {
		add("WithPartitioned needs WithSecure(true) or a __Host- or __Secure- name: browsers drop a Partitioned cookie that is not Secure")
	}
}

// reservedHeaders are the names WithTokenHeader refuses, in canonical form:
// fields that browsers or HTTP give a meaning (cookies and credentials,
// which browsers attach on their own; hop-by-hop fields, which proxies drop;
// framing and routing), and those this package writes or trusts (caching,
// forwarding).
var reservedHeaders = map[string]bool{
	"Cookie": true, "Cookie2": true, "Set-Cookie": true, "Set-Cookie2": true,
	"Authorization": true, "Proxy-Authorization": true, "Www-Authenticate": true,
	"Proxy-Authenticate": true, "Authentication-Info": true, "Proxy-Authentication-Info": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true,
	"Content-Range": true, "Range": true, "Location": true, "Date": true, "Expect": true,
	"Cache-Control": true, "Vary": true, "Pragma": true, "Expires": true, "Age": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Host": true, "X-Real-Ip": true,
}

// validateTokenHeader checks WithTokenHeader's name, and that no cookie
// option, which could only mislead with no cookie, comes with it.
func (c *config) validateTokenHeader(add func(format string, args ...any)) {
	if !c.tokenHeaderSet {
		return
	}
	switch name := http.CanonicalHeaderKey(c.tokenHeader); {
	case !isToken(c.tokenHeader):
		add("token header %q is not a valid header name", c.tokenHeader)
	case reservedHeaders[name]:
		add("token header %q is reserved: HTTP or this package gives %s a meaning", c.tokenHeader, name)
	}
	var cookieOptions []string
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"WithCookieName", c.cookieName != DefaultCookieName},
		{"WithCookiePath", c.cookiePath != "/"},
		{"WithCookieDomain", c.cookieDomain != ""},
		{"WithSameSite", c.sameSite != http.SameSiteLaxMode},
		{"WithSecure", c.secure != secureAuto},
		{"WithPersistentCookie", c.persistent},
		{"WithPartitioned", c.partitioned},
	} {
		if o.set {
			cookieOptions = append(cookieOptions, o.name)
		}
	}
	if len(cookieOptions) > 0 {
		add("WithTokenHeader sends no cookie, so %s cannot be used with it", strings.Join(cookieOptions, ", "))
	}
}

// parsePrefix reads "10.0.0.0/8" or a single address. Peers are matched
// unmapped (parseHostPort), so an IPv4-mapped prefix is unmapped too, or it
// would never match; a range holding the mapped space and more has no IPv4
// form, and a zone matches no peer: both are refused.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("an address with a zone matches no peer")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	p = p.Masked()
	mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff}) // ::ffff:0.0.0.0
	switch {
	case p.Addr().Is4In6() && p.Bits() >= 96:
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96), nil
	case p.Bits() < 96 && p.Contains(mapped):
		return netip.Prefix{}, fmt.Errorf("%v holds the IPv4-mapped range ::ffff:0:0/96 and more; "+
			"IPv4 peers are matched in IPv4 form, so list IPv4 ranges as such and IPv6 ranges that leave ::ffff:0:0/96 out", p)
	}
	return p, nil
}

// isToken reports whether s is a non-empty RFC 7230 token, as cookie names
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isDomain reports whether s is dot-separated labels of letters, digits and
// hyphens, with an optional leading dot.
func isDomain(s string) bool {
	s = strings.TrimPrefix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
