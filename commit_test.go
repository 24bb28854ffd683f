package session

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewSessionValuesAcrossResponseStart: a new session's values, more of
// them and larger than pending.values' room on the stack, are stored as set,
// read back the same before and after the response starts, and changes made
// after it started reach the store.
func TestNewSessionValuesAcrossResponseStart(t *testing.T) {
	mem := NewMemoryStore(WithSweepInterval(0))
	t.Cleanup(func() { _ = mem.Close() })
	m, err := New(WithStore(mem))
	require.NoError(t, err)
	afterWrite := map[string]any{}
	var keys []string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		for i := range 10 {
			s.Set("k"+strconv.Itoa(i), i*1000)
		}
		s.Set("name", "ünïcode")
		s.Set("big", strings.Repeat("b", 300))
		s.Set("k5", "replaced")
		require.NoError(t, s.Login("alice"))
		_, _ = w.Write([]byte("ok")) // the session is created here
		for _, k := range s.Keys() {
			afterWrite[k], _ = s.Get(k)
		}
		// Changes after the response started reach the store by update.
		s.Delete("k1")
		s.Set("late", true)
		keys = s.Keys()
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	c := setCookie(w, DefaultCookieName)
	require.NotNil(t, c)
	rec, err := mem.Load(context.Background(), storeKey(c.Value))
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"k0": 0, "k1": 1000, "k2": 2000, "k3": 3000, "k4": 4000, "k5": "replaced",
		"k6": 6000, "k7": 7000, "k8": 8000, "k9": 9000,
		"name": "ünïcode", "big": strings.Repeat("b", 300),
	}, afterWrite)
	assert.Equal(t, []string{"big", "k0", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "late", "name"}, keys)
	assert.Equal(t, 12, rec.Values.Len())
	_, stored := rec.Values.Get("k1")
	assert.False(t, stored)
	late, _ := rec.Values.Get("late")
	want, _ := DefaultCodec{}.Encode(true)
	assert.Equal(t, want, late)
	assert.Equal(t, "alice", rec.User)
}

// TestNewSessionValuesAllocateOnce: small values are encoded into the
// request's own room, so setting them allocates nothing, and a new
// session's values are then one allocation.
func TestNewSessionValuesAllocateOnce(t *testing.T) {
	var p pending
	allocs := testing.AllocsPerRun(10, func() {
		p.reset()
		enc, err := p.encode(DefaultCodec{}, "alice")
		require.NoError(t, err)
		p.put("name", "alice", enc)
	})
	assert.Equal(t, 0.0, allocs, "a small encoding goes to the room")
	enc, err := p.encode(DefaultCodec{}, 12345)
	require.NoError(t, err)
	p.put("n", 12345, enc)
	var out Values
	allocs = testing.AllocsPerRun(100, func() { out = p.values() })
	assert.Equal(t, 1.0, allocs)
	assert.Equal(t, len(p.set), out.Len())
	for _, pv := range p.set {
		want, err := DefaultCodec{}.Encode(pv.v)
		require.NoError(t, err)
		got, ok := out.Get(pv.key)
		assert.True(t, ok, pv.key)
		assert.Equal(t, want, got, pv.key)
	}
}

// TestPendingRoomNeverReused: bytes handed out of the room (in a Delta, to
// a store that may keep them) are never written over by later encodings,
// also after a reset; values that do not fit are allocated.
func TestPendingRoomNeverReused(t *testing.T) {
	var p pending
	first, err := p.encode(DefaultCodec{}, "first")
	require.NoError(t, err)
	kept := bytes.Clone(first)
	p.reset()
	for i := range 40 {
		enc, err := p.encode(DefaultCodec{}, strings.Repeat("x", i))
		require.NoError(t, err)
		want, _ := DefaultCodec{}.Encode(strings.Repeat("x", i))
		require.Equal(t, want, enc)
		require.Equal(t, len(enc), cap(enc), "an append to an encoding copies it")
	}
	require.Equal(t, kept, first)
}
