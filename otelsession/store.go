package otelsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionid/session"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// WrapStore returns a [session.Store] that passes every call to s and
// records it: a span from a tracer of tp (nil: the global TracerProvider),
// and its duration in the histogram sessionid.store.operation.duration
// (seconds) of a meter of mp (nil: the global MeterProvider). The result
// implements [session.UserIndex] exactly when s does, so that a Manager
// finds the same capabilities through it.
//
// Spans and measurements carry "sessionid.store.operation.name" and
// "sessionid.store.operation.outcome":
//
//	operation      span name
//	load           load session
//	create         create session
//	update         update session
//	delete         delete session
//	renew          renew session
//	user_sessions  list user sessions
//	delete_user    delete user sessions
//
// The outcome is ok, not_found ([session.ErrNotFound]), exists
// ([session.ErrExists]) or error. Not found and exists are answers of the
// store contract that the manager expects (an unknown cookie, a session
// ended meanwhile); only another error sets the span's status to Error and
// records the error on it, with its message: the stores of this repository
// put neither keys nor users in their errors, and a store of one's own
// should not either. No attribute holds a store key; the user of
// user_sessions and delete_user only with [WithUser].
//
// Spans are children of the span in the call's context, and the context
// passed on to s holds the new span, so that a store's own instrumentation
// (a Redis or PostgreSQL client's) nests under it. WrapStore fails only if
// the meter does not create the histogram. The wrapper is safe for
// concurrent use if s is.
func WrapStore(s session.Store, tp trace.TracerProvider, mp metric.MeterProvider, opts ...Option) (session.Store, error) {
	hist, err := meterOf(mp).Float64Histogram("sessionid.store.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of session store operations."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))
	if err != nil {
		return nil, fmt.Errorf("otelsession: creating histogram: %w", err)
	}
	w := &store{next: s, tracer: tracerOf(tp), duration: hist, cfg: newConfig(opts)}
	if users, ok := s.(session.UserIndex); ok {
		return &indexedStore{store: w, users: users}, nil
	}
	return w, nil
}

// operation is one kind of store call.
type operation int

const (
	opLoad operation = iota
	opCreate
	opUpdate
	opDelete
	opRenew
	opUserSessions
	opDeleteUser
	numOperations
)

var (
	opNames     = [numOperations]string{"load", "create", "update", "delete", "renew", "user_sessions", "delete_user"}
	opSpanNames = [numOperations]string{
		"load session", "create session", "update session", "delete session", "renew session",
		"list user sessions", "delete user sessions",
	}
)

// outcome is how a store call ended.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeNotFound
	outcomeExists
	outcomeError
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "not_found", "exists", "error"}

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, session.ErrNotFound):
		return outcomeNotFound
	case errors.Is(err, session.ErrExists):
		return outcomeExists
	}
	return outcomeError
}

// measureAttrs holds the attribute set of each operation and outcome, made
// once: recording a duration then builds no set.
var measureAttrs = func() (sets [numOperations][numOutcomes]metric.MeasurementOption) {
	for op := range numOperations {
		for out := range numOutcomes {
			sets[op][out] = metric.WithAttributeSet(attribute.NewSet(
				operationKey.String(opNames[op]), outcomeKey.String(outcomeNames[out])))
		}
	}
	return sets
}()

// store records the calls of the Store methods; indexedStore adds those of
// UserIndex.
type store struct {
	next     session.Store
	tracer   trace.Tracer
	duration metric.Float64Histogram
	cfg      config
}

// call is one store call being recorded.
type call struct {
	op    operation
	span  trace.Span
	start time.Time
}

func (w *store) start(ctx context.Context, op operation, attrs ...attribute.KeyValue) (context.Context, call) {
	attrs = append(attrs, operationKey.String(opNames[op]))
	ctx, span := w.tracer.Start(ctx, opSpanNames[op], trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	return ctx, call{op: op, span: span, start: time.Now()}
}

func (w *store) end(ctx context.Context, c call, err error) {
	out := outcomeOf(err)
	w.duration.Record(ctx, time.Since(c.start).Seconds(), measureAttrs[c.op][out])
	c.span.SetAttributes(outcomeKey.String(outcomeNames[out]))
	if out == outcomeError {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, err.Error())
	}
	c.span.End()
}

func (w *store) Load(ctx context.Context, key string) (*session.Record, error) {
	ctx, c := w.start(ctx, opLoad)
	rec, err := w.next.Load(ctx, key)
	w.end(ctx, c, err)
	return rec, err
}

func (w *store) Create(ctx context.Context, key string, rec *session.Record) error {
	ctx, c := w.start(ctx, opCreate)
	err := w.next.Create(ctx, key, rec)
	w.end(ctx, c, err)
	return err
}

func (w *store) Update(ctx context.Context, key string, d session.Delta) error {
	ctx, c := w.start(ctx, opUpdate)
	err := w.next.Update(ctx, key, d)
	w.end(ctx, c, err)
	return err
}

func (w *store) Delete(ctx context.Context, key string) error {
	ctx, c := w.start(ctx, opDelete)
	err := w.next.Delete(ctx, key)
	w.end(ctx, c, err)
	return err
}

func (w *store) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	ctx, c := w.start(ctx, opRenew)
	err := w.next.Renew(ctx, oldKey, newKey, d, tomb)
	w.end(ctx, c, err)
	return err
}

// indexedStore is the wrapper of a store with a user index.
type indexedStore struct {
	*store
	users session.UserIndex
}

func (w *indexedStore) UserSessions(ctx context.Context, user string) ([]session.KeyedRecord, error) {
	ctx, c := w.start(ctx, opUserSessions, w.userAttrs(user)...)
	recs, err := w.users.UserSessions(ctx, user)
	w.end(ctx, c, err)
	return recs, err
}

func (w *indexedStore) DeleteUser(ctx context.Context, user string) (int, error) {
	ctx, c := w.start(ctx, opDeleteUser, w.userAttrs(user)...)
	n, err := w.users.DeleteUser(ctx, user)
	w.end(ctx, c, err)
	return n, err
}

func (w *indexedStore) userAttrs(user string) []attribute.KeyValue {
	if !w.cfg.user {
		return nil
	}
	return []attribute.KeyValue{userKey.String(user)}
}
