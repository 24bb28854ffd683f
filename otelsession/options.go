package otelsession

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every meter and tracer of this
// package: its import path.
const ScopeName = "github.com/sessionid/session/otelsession"

// The attributes this package sets: names under "sessionid." are this
// project's own (see the package doc for why not "session."), the others
// OpenTelemetry semantic conventions.
const (
	rejectReasonKey = attribute.Key("sessionid.session.reject_reason")
	operationKey    = attribute.Key("sessionid.store.operation.name")
	outcomeKey      = attribute.Key("sessionid.store.operation.outcome")
	userKey         = attribute.Key("enduser.id")
	tagKey          = attribute.Key("session.id")
	previousTagKey  = attribute.Key("session.previous_id")
)

// Option configures [Hooks] and [WrapStore]; each says which options it
// reads.
type Option func(*config)

type config struct {
	user, tags bool
}

func newConfig(opts []Option) config {
	var c config
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// WithUser adds the session's user, as "enduser.id", to the life-event
// counters and span events of [Hooks] and to the UserSessions and
// DeleteUser spans of [WrapStore] (default false). A user name is personal
// data, and every user becomes a time series of each counter: turn it on
// only for a small, known set of users, or where the user is an opaque ID
// and the metrics backend can hold one series per user.
func WithUser(on bool) Option { return func(c *config) { c.user = on } }

// WithTags adds the session's tag, as "session.id", and on a renewal the
// previous tag, as "session.previous_id", to the span events of [Hooks]
// (default false), so that a trace can be matched with the manager's log
// lines, which carry the same tag. A tag is a one-way fingerprint of the
// session ID: it cannot be turned into a cookie. Tags never go into metric
// attributes: every session would be a time series of its own.
func WithTags(on bool) Option { return func(c *config) { c.tags = on } }

func meterOf(mp metric.MeterProvider) metric.Meter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(ScopeName)
}

func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName)
}
