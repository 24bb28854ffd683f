package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewSessionInMemoryStoreMatchesGenericPath checks the manager's own way
// of creating a session in a MemoryStore (values encoded straight from the
// request's changes, no Values map) against the path every other store
// takes: the same request, through a MemoryStore that the manager does not
// recognise behind a wrapper, must leave the same record, and the request
// must see the same values before and after the response starts, including
// changes made after it started.
func TestNewSessionInMemoryStoreMatchesGenericPath(t *testing.T) {
	type seen struct {
		afterWrite map[string]any
		keys       []string
		values     map[string][]byte
		user       string
	}
	run := func(t *testing.T, wrap bool) seen {
		mem := NewMemoryStore(WithSweepInterval(0))
		t.Cleanup(func() { _ = mem.Close() })
		var store Store = mem
		if wrap {
			store = &recordingStore{Store: mem}
		}
		m, err := New(WithStore(store))
		require.NoError(t, err)
		if wrap {
			require.Nil(t, m.memory, "a wrapped store must take the generic path")
		} else {
			require.Same(t, mem, m.memory, "a MemoryStore must take the compact path")
		}
		var got seen
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := FromContext(r.Context())
			// More values than createCompact's room on the stack.
			for i := range 6 {
				s.Set("k"+strconv.Itoa(i), i*1000)
			}
			s.Set("name", "ünïcode")
			s.Set("k5", "replaced")
			require.NoError(t, s.Login("alice"))
			_, _ = w.Write([]byte("ok")) // the session is created here
			got.afterWrite = map[string]any{}
			for _, k := range s.Keys() {
				got.afterWrite[k], _ = s.Get(k)
			}
			// Changes after the response started reach the store by update.
			s.Delete("k1")
			s.Set("late", true)
			got.keys = s.Keys()
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		c := setCookie(w, DefaultCookieName)
		require.NotNil(t, c)
		rec, err := mem.Load(context.Background(), storeKey(c.Value))
		require.NoError(t, err)
		got.values, got.user = rec.Values, rec.User
		return got
	}
	compact, generic := run(t, false), run(t, true)
	assert.Equal(t, generic, compact)
	assert.Equal(t, map[string]any{"k0": 0, "k1": 1000, "k2": 2000, "k3": 3000, "k4": 4000, "k5": "replaced", "name": "ünïcode"}, compact.afterWrite)
	assert.Equal(t, []string{"k0", "k2", "k3", "k4", "k5", "late", "name"}, compact.keys)
	assert.Len(t, compact.values, 7)
	assert.NotContains(t, compact.values, "k1")
	assert.Equal(t, "alice", compact.user)
}
