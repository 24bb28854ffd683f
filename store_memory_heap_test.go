package session

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpiryHeapKeepsOrderAndIndexes drives the heap with random pushes,
// removals and expiry changes, checking after each step that every parent
// expires no later than its children and that every entry knows its slot.
func TestExpiryHeapKeepsOrderAndIndexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h expiryHeap
	var live []*memEntry
	for step := range 3000 {
		switch op := rng.IntN(10); {
		case op < 5 || len(live) == 0:
			e := &memEntry{rec: memRecord{idle: rng.Int64N(1000), absolute: 1 << 62}}
			h.push(e)
			live = append(live, e)
		case op < 8:
			i := rng.IntN(len(live))
			h.remove(live[i].index)
			live = append(live[:i], live[i+1:]...)
		default:
			e := live[rng.IntN(len(live))]
			e.rec = memRecord{idle: rng.Int64N(1000), absolute: 1 << 62}
			h[e.index].expires = e.rec.expires()
			h.fix(e.index)
		}
		require.Len(t, h, len(live), "step %d", step)
		for i, slot := range h {
			if slot.e.index != i || slot.expires != slot.e.rec.expires() {
				t.Fatalf("step %d: slot %d holds index %d, expiry %d for a record expiring at %d", step, i, slot.e.index, slot.expires, slot.e.rec.expires())
			}
			if i > 0 && h[(i-1)/2].expires > slot.expires {
				t.Fatalf("step %d: slot %d expires before its parent", step, i)
			}
		}
	}
	// Popping the root in turn yields the expiries in order.
	prev := int64(-1)
	for len(h) > 0 {
		require.LessOrEqual(t, prev, h[0].expires)
		prev = h[0].expires
		h.remove(0)
	}
}
