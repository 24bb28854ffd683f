package otelsession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionid/session"
	"github.com/sessionid/session/otelsession"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// scenario is one run of a session's life through a real Manager, recorded
// by Hooks and WrapStore.
type scenario struct {
	tel       *telemetry
	store     *keySpy
	browser   *browser
	unknownID string
	appEvents []string // the events the application's own hooks saw
}

// runScenario drives a browser through a session's life, and a second one
// that shows an ID the server never issued:
//
//	GET /set               created
//	GET /login?user=alice  renewed
//	GET /renew             renewed
//	GET /logout            invalidated
//	GET /set               created (a new, anonymous session)
//	unknown cookie         rejected: unknown_id
//	an hour later, GET /get with the anonymous session: expired, and
//	rejected: expired
func runScenario(t *testing.T, opts ...otelsession.Option) *scenario {
	t.Helper()
	sc := &scenario{tel: newTelemetry(t)}
	clock := newTestClock()
	sc.store = newKeySpy(clock.Now)
	store, err := otelsession.WrapStore(sc.store, sc.tel.tp, sc.tel.mp, opts...)
	require.NoError(t, err)
	hooks, err := otelsession.Hooks(sc.tel.mp, opts...)
	require.NoError(t, err)
	app := session.Hooks{Rejected: func(_ context.Context, e session.Event) {
		sc.appEvents = append(sc.appEvents, "rejected: "+e.Reason.String())
	}}
	m, err := session.New(session.WithStore(store), session.WithClock(clock.Now),
		session.WithHooks(otelsession.Chain(app, hooks)))
	require.NoError(t, err)
	srv := httptest.NewServer(testApp(m, sc.tel.tp))
	t.Cleanup(srv.Close)

	sc.browser = newBrowser(t, srv)
	for _, path := range []string{"/set", "/login?user=alice", "/renew", "/logout", "/set"} {
		sc.browser.mustGet(path)
	}
	sc.unknownID, err = session.RandomIDGenerator{}.NewID()
	require.NoError(t, err)
	stranger := newBrowser(t, srv)
	require.Equal(t, http.StatusOK, stranger.get("/get", &http.Cookie{Name: session.DefaultCookieName, Value: sc.unknownID}))
	clock.Advance(2 * session.DefaultIdleTimeout)
	sc.browser.mustGet("/get")
	return sc
}

// events returns the name and attributes of every event of the server
// spans, in order.
func (sc *scenario) events() []string {
	var out []string
	for _, s := range sc.tel.spans.Ended() {
		if s.SpanKind() != trace.SpanKindServer {
			continue
		}
		for _, e := range s.Events() {
			out = append(out, e.Name+" "+encode(attribute.NewSet(e.Attributes...)))
		}
	}
	return out
}

const (
	reasonUnknown = "sessionid.session.reject_reason=unknown_id"
	reasonExpired = "sessionid.session.reject_reason=expired"
)

func TestHooks(t *testing.T) {
	rejected := map[string]int64{reasonExpired: 1, reasonUnknown: 1}
	tests := []struct {
		name   string
		opts   []otelsession.Option
		counts map[string]map[string]int64 // metric → attributes → count
		events []string                    // the span events, tags elided
	}{{
		name: "default",
		counts: map[string]map[string]int64{
			"sessionid.session.created":     {"": 2},
			"sessionid.session.renewed":     {"": 2},
			"sessionid.session.invalidated": {"": 1},
			"sessionid.session.expired":     {"": 1},
			"sessionid.session.rejected":    rejected,
		},
		events: []string{
			"sessionid.session.created ",
			"sessionid.session.renewed ",
			"sessionid.session.renewed ",
			"sessionid.session.invalidated ",
			"sessionid.session.created ",
			"sessionid.session.rejected " + reasonUnknown,
			"sessionid.session.expired ",
			"sessionid.session.rejected " + reasonExpired,
		},
	}, {
		name: "with user",
		opts: []otelsession.Option{otelsession.WithUser(true)},
		counts: map[string]map[string]int64{
			"sessionid.session.created":     {"": 2}, // anonymous
			"sessionid.session.renewed":     {"enduser.id=alice": 2},
			"sessionid.session.invalidated": {"enduser.id=alice": 1},
			"sessionid.session.expired":     {"": 1},
			"sessionid.session.rejected":    rejected,
		},
		events: []string{
			"sessionid.session.created ",
			"sessionid.session.renewed enduser.id=alice",
			"sessionid.session.renewed enduser.id=alice",
			"sessionid.session.invalidated enduser.id=alice",
			"sessionid.session.created ",
			"sessionid.session.rejected " + reasonUnknown,
			"sessionid.session.expired ",
			"sessionid.session.rejected " + reasonExpired,
		},
	}, {
		name: "with tags",
		opts: []otelsession.Option{otelsession.WithTags(true)},
		counts: map[string]map[string]int64{
			"sessionid.session.created":     {"": 2},
			"sessionid.session.renewed":     {"": 2},
			"sessionid.session.invalidated": {"": 1},
			"sessionid.session.expired":     {"": 1},
			"sessionid.session.rejected":    rejected,
		},
		events: []string{
			"sessionid.session.created session.id=T",
			"sessionid.session.renewed session.id=T,session.previous_id=T",
			"sessionid.session.renewed session.id=T,session.previous_id=T",
			"sessionid.session.invalidated session.id=T",
			"sessionid.session.created session.id=T",
			"sessionid.session.rejected session.id=T," + reasonUnknown,
			"sessionid.session.expired session.id=T",
			"sessionid.session.rejected session.id=T," + reasonExpired,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := runScenario(t, tt.opts...)
			for name, want := range tt.counts {
				require.Equal(t, want, sc.tel.points(t, name), name)
			}
			require.Equal(t, tt.events, elideTags(sc.events()))
			require.Equal(t, []string{"rejected: unknown ID", "rejected: expired"}, sc.appEvents)
		})
	}
}

// elideTags replaces the values of tag attributes with T.
func elideTags(events []string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		name, attrs, _ := strings.Cut(e, " ")
		kvs := strings.Split(attrs, ",")
		for j, kv := range kvs {
			if k, _, _ := strings.Cut(kv, "="); k == "session.id" || k == "session.previous_id" {
				kvs[j] = k + "=T"
			}
		}
		out[i] = name + " " + strings.Join(kvs, ",")
	}
	return out
}

// TestTagsAreTags checks that the tags of span events are the manager's
// tags, those its log lines carry: the renewed session's previous tag is
// the tag it was created under.
func TestTagsAreTags(t *testing.T) {
	sc := runScenario(t, otelsession.WithTags(true))
	tags := map[string]map[attribute.Key]string{}
	for _, s := range sc.tel.spans.Ended() {
		for _, e := range s.Events() {
			if _, seen := tags[e.Name]; seen {
				continue
			}
			tags[e.Name] = map[attribute.Key]string{}
			for _, kv := range e.Attributes {
				tags[e.Name][kv.Key] = kv.Value.AsString()
			}
		}
	}
	created, renewed := tags["sessionid.session.created"], tags["sessionid.session.renewed"]
	require.Len(t, created["session.id"], 16)
	require.Equal(t, created["session.id"], renewed["session.previous_id"])
	require.NotEqual(t, renewed["session.id"], renewed["session.previous_id"])
}

// TestNoSecrets checks that no metric or span holds a session ID, a store
// key or, unless WithUser asks for it, the user.
func TestNoSecrets(t *testing.T) {
	for _, withUser := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "with user"}[withUser], func(t *testing.T) {
			sc := runScenario(t, otelsession.WithUser(withUser), otelsession.WithTags(true))
			ids := append(sc.browser.setCookies(), sc.unknownID)
			keys := sc.store.seen()
			require.GreaterOrEqual(t, len(ids), 5, "IDs: created, logged in, renewed, created, unknown")
			require.GreaterOrEqual(t, len(keys), 5)
			text := telemetryText(t, sc.tel)
			for _, secret := range append(ids, keys...) {
				require.NotContains(t, text, secret)
			}
			if withUser {
				require.Contains(t, text, "enduser.id=alice")
			} else {
				require.NotContains(t, text, "alice")
			}
		})
	}
}

// telemetryText returns every name, attribute and status description of the
// recorded metrics and spans, one per line.
func telemetryText(t *testing.T, tel *telemetry) string {
	var b strings.Builder
	line := func(parts ...string) { b.WriteString(strings.Join(parts, " ") + "\n") }
	for _, m := range tel.collect(t) {
		line(m.Name, m.Description, m.Unit)
		for _, set := range dataPointAttributes(t, m) {
			line(m.Name, encode(set))
		}
	}
	for _, s := range tel.spans.Ended() {
		line(s.Name(), encode(attribute.NewSet(s.Attributes()...)), s.Status().Description)
		for _, e := range s.Events() {
			line(s.Name(), e.Name, encode(attribute.NewSet(e.Attributes...)))
		}
	}
	return b.String()
}

func TestChain(t *testing.T) {
	var calls []string
	hook := func(name string) func(context.Context, session.Event) {
		return func(context.Context, session.Event) { calls = append(calls, name) }
	}
	first := session.Hooks{Created: hook("first created"), Rejected: hook("first rejected")}
	second := session.Hooks{Created: hook("second created"), Expired: hook("second expired")}
	h := otelsession.Chain(first, session.Hooks{}, second)

	ctx := context.Background()
	h.Created(ctx, session.Event{})
	h.Rejected(ctx, session.Event{})
	h.Expired(ctx, session.Event{})
	require.Equal(t, []string{"first created", "second created", "first rejected", "second expired"}, calls)
	require.Nil(t, h.Renewed, "no hook for Renewed: the manager calls nothing")
	require.Nil(t, h.Invalidated)
	require.Equal(t, session.Hooks{}, otelsession.Chain())
}
