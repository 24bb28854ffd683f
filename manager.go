package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Manager loads, saves and polices sessions for the handlers it wraps. Create
// one with New, once, and share it: a Manager is safe for concurrent use.
type Manager struct {
	store      Store
	users      UserIndex // nil when the store has none
	ownedStore *MemoryStore
	cookie     *cookieCodec
	proxies    proxies
	cfg        config
	log        *slog.Logger
}

// New returns a Manager configured by opts, or an error that lists every
// problem with the configuration. Nothing about the configuration can fail
// later, at request time.
func New(opts ...Option) (*Manager, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, cookie: newCookieCodec(&cfg), log: cfg.logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.cfg.touchInterval == 0 {
		m.cfg.touchInterval = cfg.idleTimeout / 10
	}
	m.proxies.forwarded = cfg.proxyHeader == "Forwarded"
	for _, p := range cfg.trustedProxies {
		prefix, _ := parsePrefix(p) // checked by validate
		m.proxies.trusted = append(m.proxies.trusted, prefix)
	}
	m.store = cfg.store
	if m.store == nil {
		m.ownedStore = NewMemoryStore(WithMemoryClock(cfg.clock))
		m.store = m.ownedStore
	}
	m.users, _ = m.store.(UserIndex)
	if cfg.maxPerUser > 0 && m.users == nil {
		m.Close()
		return nil, fmt.Errorf("%w: WithMaxSessionsPerUser needs one", ErrNoUserIndex)
	}
	if m.cfg.errorHandler == nil {
		m.cfg.errorHandler = m.defaultErrorHandler
	}
	return m, nil
}

// Close releases the default memory store's background work. It does not
// close a store given with WithStore. It is safe to call more than once.
func (m *Manager) Close() error {
	if m.ownedStore != nil {
		return m.ownedStore.Close()
	}
	return nil
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

func (m *Manager) defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	m.log.ErrorContext(r.Context(), "session: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// Info describes one live session of a user, for an "active sessions" page.
type Info struct {
	// Handle names the session for Revoke. It is not the session ID and
	// cannot be turned into one.
	Handle string
	// CreatedAt is when the session was created; LastSeen is when its idle
	// deadline was last pushed forward (within the touch interval of the
	// last request).
	CreatedAt, LastSeen time.Time
	// ExpiresAt is when the session ends unless it is used again.
	ExpiresAt time.Time
	// ClientIP and UserAgent are those of the request that created it.
	ClientIP  netip.Addr
	UserAgent string
}

// UserSessions returns the live sessions of user, most recently seen first.
func (m *Manager) UserSessions(ctx context.Context, user string) ([]Info, error) {
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(recs))
	for _, kr := range recs {
		r := kr.Record
		out = append(out, Info{
			Handle:    handleOf(user, kr.Key),
			CreatedAt: r.CreatedAt,
			LastSeen:  r.LastSeen,
			ExpiresAt: r.ExpiresAt(),
			ClientIP:  r.ClientIP,
			UserAgent: r.UserAgent,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LastSeen.Equal(out[j].LastSeen) {
			return out[i].LastSeen.After(out[j].LastSeen)
		}
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].Handle < out[j].Handle
	})
	return out, nil
}

// liveUserSessions lists user's records that are live by the manager's clock.
func (m *Manager) liveUserSessions(ctx context.Context, user string) ([]KeyedRecord, error) {
	if m.users == nil {
		return nil, ErrNoUserIndex
	}
	recs, err := m.users.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("session: listing sessions of user: %w", err)
	}
	now := m.cfg.clock()
	live := recs[:0]
	for _, kr := range recs {
		if kr.Record.Tombstone == nil && now.Before(kr.Record.ExpiresAt()) {
			live = append(live, kr)
		}
	}
	return live, nil
}

// InvalidateUser ends every session of user ("log out everywhere") and
// returns how many ended, the current request's own session included: its
// later changes are dropped. To keep the user logged in on this device (after
// a password change, say), call the request's Session.Invalidate and then
// Session.Login after InvalidateUser: that starts a fresh session.
func (m *Manager) InvalidateUser(ctx context.Context, user string) (int, error) {
	// Listing first costs a round trip but lets the Invalidated hook see
	// every session that ends, as it does for Revoke.
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil {
		return 0, err
	}
	n, err := m.users.DeleteUser(ctx, user)
	if err != nil {
		return n, fmt.Errorf("session: invalidating sessions of user: %w", err)
	}
	for _, kr := range recs {
		m.endedByManager(ctx, user, kr)
	}
	return n, nil
}

// ErrUnknownHandle is returned by Revoke for a handle that names no live
// session.
var ErrUnknownHandle = errors.New("session: no live session has that handle")

// Revoke ends the session named by handle, an Info.Handle. An application
// should only pass handles it got from UserSessions for the logged-in user.
func (m *Manager) Revoke(ctx context.Context, handle string) error {
	user, _, ok := splitHandle(handle)
	if !ok {
		return ErrUnknownHandle
	}
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil {
		return err
	}
	for _, kr := range recs {
		if handleOf(user, kr.Key) != handle {
			continue
		}
		if err := m.store.Delete(ctx, kr.Key); err != nil {
			return fmt.Errorf("session: revoking: %w", err)
		}
		m.endedByManager(ctx, user, kr)
		return nil
	}
	return ErrUnknownHandle
}

// endedByManager tells the Invalidated hook of a session of user that a
// Manager method (not its own request) ended.
func (m *Manager) endedByManager(ctx context.Context, user string, kr KeyedRecord) {
	if hook := m.cfg.hooks.Invalidated; hook != nil {
		hook(ctx, Event{Tag: tagOf(kr.Key), User: user, ClientIP: kr.Record.ClientIP})
	}
}

// handleOf names a user's session for Revoke: the user (so that Revoke finds
// the session through the user index) and the session's tag.
func handleOf(user, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + tagOf(key)
}

func splitHandle(handle string) (user, tag string, ok bool) {
	u, tag, ok := strings.Cut(handle, ".")
	if !ok || tag == "" {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil || len(raw) == 0 {
		return "", "", false
	}
	return string(raw), tag, true
}

// enforceUserLimit ends user's sessions beyond WithMaxSessionsPerUser: all
// but those whose IDs were issued last. Every Login ranks the sessions the
// same way (by IssuedAt, then by key), so two Logins that race agree on
// which sessions stay: the later login survives, not neither. The session
// of the Login that calls it is ranked like the others, and ends when a
// later Login raced it.
func (m *Manager) enforceUserLimit(ctx context.Context, user string) error {
	if m.cfg.maxPerUser <= 0 || user == "" {
		return nil
	}
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil || len(recs) <= m.cfg.maxPerUser {
		return err
	}
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i].Record.IssuedAt, recs[j].Record.IssuedAt
		if !a.Equal(b) {
			return a.After(b)
		}
		return recs[i].Key > recs[j].Key
	})
	for _, kr := range recs[m.cfg.maxPerUser:] {
		if err := m.store.Delete(ctx, kr.Key); err != nil {
			return fmt.Errorf("session: ending oldest session of user: %w", err)
		}
		m.endedByManager(ctx, user, kr)
	}
	return nil
}

// idleDeadline returns the idle deadline that a request at now gives its
// session. A request that only reads pushes the deadline to the store at
// most once per touch interval, so the deadline reaches a touch interval
// beyond the idle timeout: a session lives at least the idle timeout after
// its last request, and at most the idle timeout plus the touch interval.
func (m *Manager) idleDeadline(now time.Time) time.Time {
	return now.Add(m.cfg.idleTimeout + m.cfg.touchInterval)
}
