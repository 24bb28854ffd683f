package session

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Manager loads, saves and polices sessions for the handlers it wraps. Create
// one with [New], once, and share it; the zero value is not usable. A Manager
// is safe for concurrent use.
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

// Close stops the background work of the default [MemoryStore]. It does not
// close a store given with [WithStore]. It is safe to call more than once.
func (m *Manager) Close() error {
	if m.ownedStore != nil {
		return m.ownedStore.Close()
	}
	return nil
}

// Store returns the manager's store: the one given with [WithStore], or its
// own [MemoryStore].
func (m *Manager) Store() Store { return m.store }

func (m *Manager) defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	m.log.ErrorContext(r.Context(), "session: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}

// Info describes one live session of a user, for an "active sessions" page.
type Info struct {
	// Handle names the session for [Manager.Revoke]. It is not the session
	// ID and cannot be turned into one.
	Handle string
	// CreatedAt is when the session was created; LastSeen is when its idle
	// deadline was last pushed forward (within the touch interval of the
	// last request).
	CreatedAt, LastSeen time.Time
	// ExpiresAt is when the session ends unless it is used again.
	ExpiresAt time.Time
	// Remembered reports whether the session is under the remembered
	// policy ([Session.RememberMe]).
	Remembered bool
	// ClientIP and UserAgent are those of the request that created it.
	ClientIP  netip.Addr
	UserAgent string
}

// UserSessions returns the live sessions of user, most recently seen first.
// It fails with [ErrNoUserIndex] if the store has no [UserIndex].
func (m *Manager) UserSessions(ctx context.Context, user string) ([]Info, error) {
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(recs))
	for _, kr := range recs {
		r := kr.Record
		out = append(out, Info{
			Handle:     handleOf(user, kr.Key),
			CreatedAt:  r.CreatedAt,
			LastSeen:   r.LastSeen,
			ExpiresAt:  m.expiresAt(r),
			Remembered: r.Remember,
			ClientIP:   r.ClientIP,
			UserAgent:  r.UserAgent,
		})
	}
	slices.SortFunc(out, func(a, b Info) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.Handle, b.Handle))
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
		if kr.Record.Tombstone == nil && now.Before(m.expiresAt(kr.Record)) {
			live = append(live, kr)
		}
	}
	return live, nil
}

// InvalidateUser ends every session of user ("log out everywhere") and
// returns how many ended, the current request's own session included: its
// later changes are dropped. To keep the user logged in on this device (after
// a password change, say), call the request's [Session.Invalidate] and then
// [Session.Login] after InvalidateUser: that starts a fresh session. It fails
// with [ErrNoUserIndex] if the store has no [UserIndex].
func (m *Manager) InvalidateUser(ctx context.Context, user string) (int, error) {
	// Listed first, at the cost of a round trip, for the Invalidated hook.
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

// ErrUnknownHandle is returned by [Manager.Revoke] for a handle that names no
// live session.
var ErrUnknownHandle = errors.New("session: no live session has that handle")

// Revoke ends the session named by handle, an [Info.Handle]. An application
// should only pass handles it got from [Manager.UserSessions] for the
// logged-in user.
func (m *Manager) Revoke(ctx context.Context, handle string) error {
	u, tag, ok := strings.Cut(handle, ".")
	raw, err := base64.RawURLEncoding.DecodeString(u)
	if !ok || tag == "" || err != nil || len(raw) == 0 {
		return ErrUnknownHandle
	}
	user := string(raw)
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

// endedByManager tells the Invalidated hook about a session that a Manager
// method, not its own request, ended.
func (m *Manager) endedByManager(ctx context.Context, user string, kr KeyedRecord) {
	if hook := m.cfg.hooks.Invalidated; hook != nil {
		hook(ctx, Event{Tag: tagOf(kr.Key), User: user, ClientIP: kr.Record.ClientIP})
	}
}

// handleOf names a session for Revoke: its user, so that Revoke can find it
// through the user index, and its tag.
func handleOf(user, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + tagOf(key)
}

// enforceUserLimit ends user's sessions beyond WithMaxSessionsPerUser, all
// but those issued last. Every Login ranks them alike (by IssuedAt, then
// key), so two racing Logins agree: the later one survives, not neither.
func (m *Manager) enforceUserLimit(ctx context.Context, user string) error {
	if m.cfg.maxPerUser <= 0 || user == "" {
		return nil
	}
	recs, err := m.liveUserSessions(ctx, user)
	if err != nil || len(recs) <= m.cfg.maxPerUser {
		return err
	}
	slices.SortFunc(recs, func(a, b KeyedRecord) int {
		return cmp.Or(b.Record.IssuedAt.Compare(a.Record.IssuedAt), strings.Compare(b.Key, a.Key))
	})
	for _, kr := range recs[m.cfg.maxPerUser:] {
		if err := m.store.Delete(ctx, kr.Key); err != nil {
			return fmt.Errorf("session: ending oldest session of user: %w", err)
		}
		m.endedByManager(ctx, user, kr)
	}
	return nil
}

// timeouts returns the idle and absolute timeouts of a session, remembered
// or not.
func (m *Manager) timeouts(remember bool) (idle, absolute time.Duration) {
	if remember && m.cfg.rememberSet {
		return m.cfg.rememberIdle, m.cfg.rememberAbsolute
	}
	return m.cfg.idleTimeout, m.cfg.absoluteTimeout
}

// idleDeadline is the idle deadline a save at now gives a session, remembered
// or not: a touch interval beyond the idle timeout, as reads push it once per
// interval.
func (m *Manager) idleDeadline(now time.Time, remember bool) time.Time {
	idle, _ := m.timeouts(remember)
	return now.Add(idle + m.cfg.touchInterval)
}

// touchDue reports whether a request at now that changes nothing pushes
// rec's idle deadline: once per touch interval.
func (m *Manager) touchDue(rec *Record, now time.Time) bool {
	return now.Sub(rec.LastSeen) >= m.cfg.touchInterval
}

// absoluteDeadline is the absolute deadline stored for a session created at
// created: long enough for either policy, since a session may switch later;
// expiresAt applies the session's own.
func (m *Manager) absoluteDeadline(created time.Time) time.Time {
	_, normal := m.timeouts(false)
	_, remembered := m.timeouts(true)
	return created.Add(max(normal, remembered))
}

// expiresAt is when the session of rec ends unless used again, under its
// policy: the store's deadlines, and its policy's absolute timeout.
func (m *Manager) expiresAt(rec *Record) time.Time {
	_, absolute := m.timeouts(rec.Remember)
	return earlier(rec.ExpiresAt(), rec.CreatedAt.Add(absolute))
}
