package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
			// More values, and more bytes, than pending.compact's room on
			// the stack.
			for i := range 10 {
				s.Set("k"+strconv.Itoa(i), i*1000)
			}
			s.Set("name", "ünïcode")
			s.Set("big", strings.Repeat("b", 300))
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
	assert.Equal(t, map[string]any{
		"k0": 0, "k1": 1000, "k2": 2000, "k3": 3000, "k4": 4000, "k5": "replaced",
		"k6": 6000, "k7": 7000, "k8": 8000, "k9": 9000,
		"name": "ünïcode", "big": strings.Repeat("b", 300),
	}, compact.afterWrite)
	assert.Equal(t, []string{"big", "k0", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "late", "name"}, compact.keys)
	assert.Len(t, compact.values, 12)
	assert.NotContains(t, compact.values, "k1")
	assert.Equal(t, "alice", compact.user)
}

// TestNewSessionValuesAllocateOnce: the values of a new session in a
// MemoryStore are encoded on the stack and copied into the record's one
// allocation.
func TestNewSessionValuesAllocateOnce(t *testing.T) {
	var p pending
	p.put("n", 12345)
	p.put("name", "alice")
	var out []byte
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		out, err = p.compact(DefaultCodec{})
		require.NoError(t, err)
	})
	assert.Equal(t, 1.0, allocs)
	got := decodeValues(out)
	for _, pv := range p.set {
		want, err := DefaultCodec{}.Encode(pv.v)
		require.NoError(t, err)
		assert.Equal(t, want, got[pv.key], pv.key)
	}
}
