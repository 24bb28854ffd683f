package session

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Errors of the [Store] contract. Stores return them, wrapped or not, for
// [errors.Is].
var (
	// ErrNotFound is returned when a key holds no record (missing, deleted,
	// or expired and dropped by the store), and by Update and Renew when it
	// holds one they must not change (expired, or a tombstone).
	ErrNotFound = errors.New("session: record not found")
	// ErrExists is returned when Create or Renew finds a record already at
	// the new key.
	ErrExists = errors.New("session: record already exists")
	// ErrNoUserIndex is returned when a feature needs a [UserIndex] that the
	// store does not implement.
	ErrNoUserIndex = errors.New("session: store has no user index")
)

// Record is what a store keeps for one session, under the SHA-256 of the
// session ID, never under the ID itself.
//
// A Record returned by Load may be shared with other readers: callers must
// not modify it, and a store must not modify a Record after returning it.
// Its Values cannot be modified.
type Record struct {
	// Values holds each key with its value as encoded by the manager's
	// [Codec]; stores treat values as opaque bytes.
	Values Values
	// User is the logged-in user, "" for an anonymous session. It is valid
	// UTF-8 without NUL bytes ([Session.Login] refuses others), so stores
	// may keep it as text.
	User string
	// CreatedAt is when the session was created; LastSeen is when its idle
	// deadline was last pushed forward; IssuedAt is when its current ID was
	// issued (at creation or at the last renewal).
	CreatedAt, LastSeen, IssuedAt time.Time
	// IdleDeadline and AbsoluteDeadline bound the session's life; the store
	// may drop the record at the earlier of the two (see [Record.ExpiresAt]).
	IdleDeadline, AbsoluteDeadline time.Time
	// ClientIP is the client's address when the session was created, for IP
	// binding and for listing a user's sessions. It may be the zero Addr.
	ClientIP netip.Addr
	// UserAgent is the client's User-Agent header at creation, made valid
	// UTF-8 and cut to at most 512 bytes. It may hold other control bytes.
	UserAgent string
	// Remember is set for a session under the "remember me" policy
	// ([Session.RememberMe]): the manager gives it the timeouts of
	// [WithRememberMe] and a persistent cookie.
	Remember bool
	// Tombstone is set on the record Renew leaves at an old key; such a
	// record has no values and is never listed in a user index.
	Tombstone *Tombstone
}

// ExpiresAt returns the moment after which the record is dead: the earlier of
// its idle and absolute deadlines.
func (r *Record) ExpiresAt() time.Time {
	if r.AbsoluteDeadline.Before(r.IdleDeadline) {
		return r.AbsoluteDeadline
	}
	return r.IdleDeadline
}

// Tombstone marks a key whose session [Store.Renew] moved to a new key.
type Tombstone struct {
	// Successor is the new ID sealed with a key derived from the old raw ID,
	// so that only a holder of the old ID can read it; nil when the renewal
	// had no grace period. The store never holds a raw ID in clear.
	Successor []byte
	// Next is the new key, so that Delete can follow a renewal that raced
	// with it.
	Next string
	// GraceUntil is the end of the grace period during which the old ID
	// still leads to the new session.
	GraceUntil time.Time
	// Expires is when the tombstone itself may go. It is at or after
	// GraceUntil, and later still so that a use of the old ID after the grace
	// is recognised as stale (a hijack signal), not just unknown.
	Expires time.Time
}

// Delta is a change to one record: only the keys that changed, so that two
// requests changing different keys both keep their change. It is applied in
// this order: Clear, Delete, Set, then the other fields. Zero fields leave the
// record as it was.
type Delta struct {
	// Clear removes every value before Set is applied.
	Clear bool
	// Delete lists keys to remove.
	Delete []string
	// Set maps keys to their new encoded values.
	Set map[string][]byte
	// User, when not nil, replaces the record's user (and its place in the
	// user index).
	User *string
	// LastSeen and IdleDeadline, when not zero, replace the record's.
	LastSeen, IdleDeadline time.Time
	// IssuedAt, when not zero, replaces the record's (set on renewal).
	IssuedAt time.Time
	// Remember, when not nil, replaces the record's.
	Remember *bool
}

// IsZero reports whether d changes nothing.
func (d *Delta) IsZero() bool {
	return !d.Clear && len(d.Delete) == 0 && len(d.Set) == 0 && d.User == nil && d.Remember == nil &&
		d.LastSeen.IsZero() && d.IdleDeadline.IsZero() && d.IssuedAt.IsZero()
}

// Apply returns a copy of r with d applied; r is not modified. Stores that
// hold whole records can use it to implement Update and Renew.
func (d *Delta) Apply(r *Record) *Record {
	out := *r
	out.Values = r.Values.with(d)
	if d.User != nil {
		out.User = *d.User
	}
	if !d.LastSeen.IsZero() {
		out.LastSeen = d.LastSeen
	}
	if !d.IdleDeadline.IsZero() {
		out.IdleDeadline = d.IdleDeadline
	}
	if d.Remember != nil {
		out.Remember = *d.Remember
	}
	if !d.IssuedAt.IsZero() {
		out.IssuedAt = d.IssuedAt
	}
	return &out
}

// Store keeps session records under keys (the SHA-256 of session IDs). Every
// method takes the request's context first and must honour its cancellation.
// Implementations must be safe for concurrent use.
//
// The manager enforces timeouts itself, with its own clock: a record whose
// ExpiresAt has passed (by the store's clock) is expired. A store may drop
// an expired record at any time. Until it does, only Load may return it;
// every other method treats it as gone: Update and Renew fail with
// [ErrNotFound], Create may replace it, and a [UserIndex] neither lists nor
// counts it.
type Store interface {
	// Load returns the record at key, or ErrNotFound. It may return an
	// expired session record it still holds, but only with the deadlines it
	// was given, never as live: the manager then reports it as expired and
	// deletes it, so that a clock stepping back cannot revive it. An expired
	// tombstone, whose expiry the manager does not check, is never
	// returned: Load fails with ErrNotFound. A store that may answer from a
	// cache of its own must not do so when [CacheAllowed] says no.
	Load(ctx context.Context, key string) (*Record, error)
	// Create stores rec at key, or fails with ErrExists if key holds a
	// record (a collision never merges two sessions); an expired one may be
	// replaced instead. The store may keep rec itself: the caller does not
	// change it afterwards.
	Create(ctx context.Context, key string, rec *Record) error
	// Update applies d to the record at key atomically, or fails with
	// ErrNotFound if there is none, or only a tombstone or an expired
	// record. Update never creates a record nor revives an expired one:
	// that is what keeps an invalidated session dead. The manager never
	// sends an empty Delta.
	Update(ctx context.Context, key string, d Delta) error
	// Delete removes the record at key, if any. When that record is a
	// tombstone, it also deletes what Tombstone.Next leads to, and so on
	// along the chain: ending a session must not miss a renewal that moved
	// it meanwhile. It is idempotent.
	Delete(ctx context.Context, key string) error
	// Renew atomically moves the record at oldKey to newKey, applying d on
	// the way. At oldKey it leaves nothing when tomb is nil, otherwise a
	// record holding only tomb, whose deadlines are both tomb.Expires. It
	// fails with ErrNotFound if oldKey holds no live record (none, an
	// expired one or a tombstone) and with ErrExists if newKey holds one.
	Renew(ctx context.Context, oldKey, newKey string, d Delta, tomb *Tombstone) error
}

// UserIndex is an optional [Store] capability: finding and ending all
// sessions of a user. The manager discovers it with a type assertion;
// without it, [Manager.UserSessions], [Manager.InvalidateUser],
// [Manager.Revoke] and [WithMaxSessionsPerUser] fail with [ErrNoUserIndex].
// Implementations must be safe for concurrent use.
type UserIndex interface {
	// UserSessions returns the live records of user (never tombstones).
	UserSessions(ctx context.Context, user string) ([]KeyedRecord, error)
	// DeleteUser removes every record of user, following renewals as
	// Delete does, and returns how many live sessions it removed.
	DeleteUser(ctx context.Context, user string) (int, error)
}

// KeyedRecord is a record with the key it is stored under.
type KeyedRecord struct {
	Key    string
	Record *Record
}

// noCacheKey marks a context made by [WithoutCache].
type noCacheKey struct{}

// WithoutCache returns a context that asks a store to read from where it
// keeps its records, not from a cache of its own (such as redisstore's
// local cache), which may hold a copy that another instance has changed
// since. The manager reads a session again this way before it ends it as
// expired, so that such a copy never ends a session.
func WithoutCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCacheKey{}, true)
}

// CacheAllowed reports whether a store may answer a call made with ctx from
// a cache of its own: false under [WithoutCache].
func CacheAllowed(ctx context.Context) bool {
	return ctx.Value(noCacheKey{}) == nil
}
