package otelsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/otelsession"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	operationKey = "sessionid.store.operation.name"
	outcomeKey   = "sessionid.store.operation.outcome"
)

func isStoreSpan(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == trace.SpanKindInternal }

func TestWrapStoreRecordsOperations(t *testing.T) {
	sc := runScenario(t)
	var got []string
	server := map[trace.SpanID]bool{}
	for _, s := range sc.tel.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			server[s.SpanContext().SpanID()] = true
		}
	}
	for _, s := range sc.tel.spans.Ended() {
		if !isStoreSpan(s) {
			continue
		}
		got = append(got, s.Name()+": "+attr(s, operationKey)+" "+attr(s, outcomeKey))
		require.Equal(t, codes.Unset, s.Status().Code, s.Name())
		require.Empty(t, s.Events(), s.Name())
		require.True(t, server[s.Parent().SpanID()], "%s is a child of its request's span", s.Name())
	}
	require.Equal(t, []string{
		"create session: create ok", // GET /set
		"load session: load ok",     // GET /login
		"renew session: renew ok",
		"load session: load ok", // GET /renew
		"renew session: renew ok",
		"load session: load ok", // GET /logout
		"delete session: delete ok",
		"create session: create ok",    // GET /set
		"load session: load not_found", // the unknown ID: not a span error
		"load session: load ok",        // the expired session
		"load session: load ok",        // read again past any cache (session.WithoutCache)
		"delete session: delete ok",    // deleted by the manager
	}, got)
	require.Equal(t, map[string]int64{
		operationKey + "=create," + outcomeKey + "=ok":      2,
		operationKey + "=delete," + outcomeKey + "=ok":      2,
		operationKey + "=load," + outcomeKey + "=not_found": 1,
		operationKey + "=load," + outcomeKey + "=ok":        5,
		operationKey + "=renew," + outcomeKey + "=ok":       2,
	}, sc.tel.points(t, "sessionid.store.operation.duration"))
}

// storeOnly hides every method of its store but Store's.
type storeOnly struct{ session.Store }

func TestWrapStoreKeepsUserIndex(t *testing.T) {
	tests := []struct {
		name  string
		store session.Store
		index bool
	}{
		{"MemoryStore", session.NewMemoryStore(), true},
		{"Store only", storeOnly{session.NewMemoryStore()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			w, err := otelsession.WrapStore(tt.store, tel.tp, tel.mp)
			require.NoError(t, err)
			_, index := w.(session.UserIndex)
			require.Equal(t, tt.index, index)
			m, err := session.New(session.WithStore(w), session.WithMaxSessionsPerUser(1))
			if tt.index {
				require.NoError(t, err)
				require.NoError(t, m.Close())
			} else {
				require.ErrorIs(t, err, session.ErrNoUserIndex)
			}
		})
	}
}

func TestWrapStoreUserOperations(t *testing.T) {
	for _, withUser := range []bool{false, true} {
		t.Run(fmt.Sprint("WithUser ", withUser), func(t *testing.T) {
			tel := newTelemetry(t)
			store := session.NewMemoryStore()
			t.Cleanup(func() { store.Close() })
			w, err := otelsession.WrapStore(store, tel.tp, tel.mp, otelsession.WithUser(withUser))
			require.NoError(t, err)
			hooks, err := otelsession.Hooks(tel.mp, otelsession.WithUser(withUser))
			require.NoError(t, err)
			m, err := session.New(session.WithStore(w), session.WithHooks(hooks))
			require.NoError(t, err)
			srv := httptest.NewServer(testApp(m, tel.tp))
			t.Cleanup(srv.Close)
			b := newBrowser(t, srv)
			b.mustGet("/login?user=alice")
			b.mustGet("/logout-everywhere")

			wantUser := map[bool]string{false: "", true: "alice"}[withUser]
			var got []string
			for _, s := range tel.spans.Ended() {
				if isStoreSpan(s) && (attr(s, operationKey) == "user_sessions" || attr(s, operationKey) == "delete_user") {
					got = append(got, s.Name()+": "+attr(s, outcomeKey))
					require.Equal(t, wantUser, attr(s, "enduser.id"))
				}
			}
			require.Equal(t, []string{"list user sessions: ok", "delete user sessions: ok"}, got)
			wantCount := map[bool]map[string]int64{false: {"": 1}, true: {"enduser.id=alice": 1}}[withUser]
			require.Equal(t, wantCount, tel.points(t, "sessionid.session.invalidated"))
		})
	}
}

// errStore fails every call with err.
type errStore struct{ err error }

func (s errStore) Load(context.Context, string) (*session.Record, error) { return nil, s.err }
func (s errStore) Create(context.Context, string, *session.Record) error { return s.err }
func (s errStore) Update(context.Context, string, session.Delta) error   { return s.err }
func (s errStore) Delete(context.Context, string) error                  { return s.err }
func (s errStore) Renew(context.Context, string, string, session.Delta, *session.Tombstone) error {
	return s.err
}
func (s errStore) UserSessions(context.Context, string) ([]session.KeyedRecord, error) {
	return nil, s.err
}
func (s errStore) DeleteUser(context.Context, string) (int, error) { return 0, s.err }

func TestWrapStoreOutcomes(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name    string
		err     error
		outcome string
		isError bool // a span error
	}{
		{"ok", nil, "ok", false},
		{"not found", fmt.Errorf("mystore: loading: %w", session.ErrNotFound), "not_found", false},
		{"exists", session.ErrExists, "exists", false},
		{"error", fmt.Errorf("mystore: %w", down), "error", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := newTelemetry(t)
			s, err := otelsession.WrapStore(errStore{tt.err}, tel.tp, tel.mp)
			require.NoError(t, err)
			ctx, d := context.Background(), session.Delta{}
			_, err = s.Load(ctx, "k")
			require.Equal(t, tt.err, err)
			require.Equal(t, tt.err, s.Create(ctx, "k", &session.Record{}))
			require.Equal(t, tt.err, s.Update(ctx, "k", d))
			require.Equal(t, tt.err, s.Delete(ctx, "k"))
			require.Equal(t, tt.err, s.Renew(ctx, "k", "k2", d, nil))
			_, err = s.(session.UserIndex).UserSessions(ctx, "u")
			require.Equal(t, tt.err, err)
			_, err = s.(session.UserIndex).DeleteUser(ctx, "u")
			require.Equal(t, tt.err, err)

			spans := tel.spans.Ended()
			require.Len(t, spans, 7)
			for _, span := range spans {
				require.Equal(t, tt.outcome, attr(span, outcomeKey), span.Name())
				if !tt.isError {
					require.Equal(t, codes.Unset, span.Status().Code, span.Name())
					require.Empty(t, span.Events(), span.Name())
					continue
				}
				require.Equal(t, codes.Error, span.Status().Code, span.Name())
				require.Equal(t, "mystore: connection refused", span.Status().Description)
				require.Len(t, span.Events(), 1)
				require.Equal(t, "exception", span.Events()[0].Name)
			}
			points := tel.points(t, "sessionid.store.operation.duration")
			require.Len(t, points, 7)
			for attrs, n := range points {
				require.Contains(t, attrs, outcomeKey+"="+tt.outcome)
				require.EqualValues(t, 1, n, attrs)
			}
		})
	}
}

// TestStoreErrorThroughManager checks a store failure met by a request: the
// request fails, and its store span is an error.
func TestStoreErrorThroughManager(t *testing.T) {
	tel := newTelemetry(t)
	s, err := otelsession.WrapStore(errStore{errors.New("mystore: connection refused")}, tel.tp, tel.mp)
	require.NoError(t, err)
	m, err := session.New(session.WithStore(s), session.WithLogger(discardLogger()))
	require.NoError(t, err)
	srv := httptest.NewServer(testApp(m, tel.tp))
	t.Cleanup(srv.Close)
	require.Equal(t, http.StatusInternalServerError, newBrowser(t, srv).get("/set", nil))

	var failed []string
	for _, span := range tel.spans.Ended() {
		if isStoreSpan(span) && span.Status().Code == codes.Error {
			failed = append(failed, span.Name()+": "+attr(span, outcomeKey))
		}
	}
	require.Equal(t, []string{"create session: error"}, failed)
	require.Equal(t, map[string]int64{operationKey + "=create," + outcomeKey + "=error": 1},
		tel.points(t, "sessionid.store.operation.duration"))
}
