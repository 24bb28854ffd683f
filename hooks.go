package session

import (
	"context"
	"net/netip"
)

// RejectReason says why a session cookie (or, with [WithTokenHeader], the
// token header) was not adopted; the zero value means "not rejected".
type RejectReason int

// The reasons a cookie can be rejected; they apply to the token header too,
// where RejectMalformedCookie also covers several values of the header. A
// stale ID after renewal and an IP mismatch are hijack signals: the cookie
// was valid once, and someone other than its owner may be using it.
const (
	RejectUnknownID RejectReason = iota + 1
	RejectExpired
	RejectIPMismatch
	RejectBadSignature
	RejectMalformedCookie
	RejectStaleID
)

// String returns the reason in words, for logs.
func (r RejectReason) String() string {
	switch r {
	case RejectUnknownID:
		return "unknown ID"
	case RejectExpired:
		return "expired"
	case RejectIPMismatch:
		return "IP mismatch"
	case RejectBadSignature:
		return "bad signature"
	case RejectMalformedCookie:
		return "malformed cookie"
	case RejectStaleID:
		return "stale ID after renewal"
	}
	return "not rejected"
}

// Event describes what a hook is told about. It never holds a raw ID.
type Event struct {
	// Tag is a short one-way fingerprint of the session (see [Info.Handle]),
	// enough to tell sessions apart in logs; "" when there was no ID.
	Tag string
	// PreviousTag is the tag of the ID before a renewal (Renewed only).
	PreviousTag string
	// User is the session's user, if known.
	User string
	// ClientIP is the address of the request's client, when there is a
	// request; the zero Addr otherwise.
	ClientIP netip.Addr
	// Reason is set for Rejected events only.
	Reason RejectReason
}

// Hooks are optional callbacks on session life events, set with
// [WithHooks]; a nil func is not called, and the zero value calls nothing.
// Hooks run synchronously in the request's goroutine (or in the caller's, for
// Manager methods), so they should be quick; they receive the request's
// context as it was before the middleware. A hook must not call methods of
// the request's Session, which may be locked while it runs.
type Hooks struct {
	// Created is called when a new session was written to the store.
	Created func(context.Context, Event)
	// Renewed is called when a session got a new ID ([Session.Renew],
	// [Session.Login] or [WithRotation]).
	Renewed func(context.Context, Event)
	// Invalidated is called when a session was ended by
	// [Session.Invalidate], [Manager.Revoke], [Manager.InvalidateUser], or
	// the limit of [WithMaxSessionsPerUser].
	Invalidated func(context.Context, Event)
	// Expired is called when the manager found a session past its idle or
	// absolute deadline and deleted it.
	Expired func(context.Context, Event)
	// Rejected is called when a request's cookie was not adopted;
	// Event.Reason says why. Rejections are normal after a logout elsewhere
	// or a timeout (the cookie is then removed), but a client address behind
	// many unknown IDs is guessing, and a stale ID or an IP mismatch may be a
	// stolen cookie.
	Rejected func(context.Context, Event)
}

func fire(f func(context.Context, Event), ctx context.Context, e Event) {
	if f != nil {
		f(ctx, e)
	}
}
