package otelsession

import (
	"context"
	"fmt"

	"github.com/sessionid/session"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Hooks returns [session.Hooks] that count the life events of sessions with
// counters of a meter of mp (nil: the global MeterProvider), one per
// event:
//
//	sessionid.session.created      {session}  a new session was stored
//	sessionid.session.renewed      {session}  a session got a new ID (Login, Renew, rotation)
//	sessionid.session.invalidated  {session}  a session was ended (Invalidate, Revoke, InvalidateUser, the per-user limit)
//	sessionid.session.expired      {session}  the manager found a session past its deadline
//	sessionid.session.rejected     {cookie}   a cookie (or token header) was not adopted
//
// rejected carries "sessionid.session.reject_reason": unknown_id, expired,
// ip_mismatch, bad_signature, malformed_cookie or stale_id. An expired
// session counts once as expired and once as rejected with reason expired.
// No attribute holds a user, a tag or an ID, unless [WithUser] adds the
// user.
//
// Each event is also added, under the counter's name, to the span recording
// in the hook's context, if any (the request's server span of an
// instrumented handler in front of the manager's): with the reason, and
// with the user and tags when [WithUser] and [WithTags] ask for them.
//
// Give the result to [session.WithHooks], through [Chain] to keep the
// application's own hooks. Hooks fails only if the meter does not create a
// counter. The hooks are safe for concurrent use.
func Hooks(mp metric.MeterProvider, opts ...Option) (session.Hooks, error) {
	cfg, meter := newConfig(opts), meterOf(mp)
	var events [5]*eventCounter
	for i, d := range [...]struct{ name, unit, desc string }{
		{"sessionid.session.created", "{session}", "Sessions created."},
		{"sessionid.session.renewed", "{session}", "Sessions given a new ID."},
		{"sessionid.session.invalidated", "{session}", "Sessions ended before their deadline."},
		{"sessionid.session.expired", "{session}", "Sessions found past their deadline."},
		{"sessionid.session.rejected", "{cookie}", "Session cookies not adopted."},
	} {
		c, err := meter.Int64Counter(d.name, metric.WithUnit(d.unit), metric.WithDescription(d.desc))
		if err != nil {
			return session.Hooks{}, fmt.Errorf("otelsession: creating counter %s: %w", d.name, err)
		}
		events[i] = &eventCounter{name: d.name, counter: c, cfg: cfg}
	}
	events[4].rejected = true
	return session.Hooks{
		Created:     events[0].observe,
		Renewed:     events[1].observe,
		Invalidated: events[2].observe,
		Expired:     events[3].observe,
		Rejected:    events[4].observe,
	}, nil
}

// eventCounter counts one kind of event and adds it to the current span.
type eventCounter struct {
	name     string
	counter  metric.Int64Counter
	cfg      config
	rejected bool // the events carry a reason
}

func (k *eventCounter) observe(ctx context.Context, e session.Event) {
	attrs := make([]attribute.KeyValue, 0, 4)
	if k.rejected {
		attrs = append(attrs, rejectReasonKey.String(reasonToken(e.Reason)))
	}
	if k.cfg.user && e.User != "" {
		attrs = append(attrs, userKey.String(e.User))
	}
	k.counter.Add(ctx, 1, metric.WithAttributes(attrs...))
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if k.cfg.tags && e.Tag != "" {
		attrs = append(attrs, tagKey.String(e.Tag))
	}
	if k.cfg.tags && e.PreviousTag != "" {
		attrs = append(attrs, previousTagKey.String(e.PreviousTag))
	}
	span.AddEvent(k.name, trace.WithAttributes(attrs...))
}

// reasonToken is the attribute value of a reason: lower-case and stable,
// where [session.RejectReason.String] is for people.
func reasonToken(r session.RejectReason) string {
	switch r {
	case session.RejectUnknownID:
		return "unknown_id"
	case session.RejectExpired:
		return "expired"
	case session.RejectIPMismatch:
		return "ip_mismatch"
	case session.RejectBadSignature:
		return "bad_signature"
	case session.RejectMalformedCookie:
		return "malformed_cookie"
	case session.RejectStaleID:
		return "stale_id"
	}
	return "_OTHER"
}

// Chain returns hooks that call, for each event, the funcs of every one of
// hooks that has one, in the order given, so that [Hooks] and an
// application's own hooks both see every event:
//
//	h, err := otelsession.Hooks(mp)
//	...
//	session.New(session.WithHooks(otelsession.Chain(appHooks, h)))
//
// An event none of hooks handles keeps a nil func, which the manager does
// not call.
func Chain(hooks ...session.Hooks) session.Hooks {
	return session.Hooks{
		Created:     chain(hooks, func(h session.Hooks) hookFunc { return h.Created }),
		Renewed:     chain(hooks, func(h session.Hooks) hookFunc { return h.Renewed }),
		Invalidated: chain(hooks, func(h session.Hooks) hookFunc { return h.Invalidated }),
		Expired:     chain(hooks, func(h session.Hooks) hookFunc { return h.Expired }),
		Rejected:    chain(hooks, func(h session.Hooks) hookFunc { return h.Rejected }),
	}
}

type hookFunc = func(context.Context, session.Event)

func chain(hooks []session.Hooks, field func(session.Hooks) hookFunc) hookFunc {
	var fs []hookFunc
	for _, h := range hooks {
		if f := field(h); f != nil {
			fs = append(fs, f)
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(ctx context.Context, e session.Event) {
		for _, f := range fs {
			f(ctx, e)
		}
	}
}
