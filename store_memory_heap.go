package session

// expiryHeap orders a shard's entries by expiry, earliest first. Each slot
// holds its entry's expiry, so that the heap's operations compare slots next
// to each other in memory instead of following a pointer to each entry (and
// from it to its record): with a million sessions, most such pointers lead to
// a cache miss, and the sweeper holds its shard's lock meanwhile.
//
// It implements heap.Interface; Push takes a *memEntry and Pop returns one.
type expiryHeap []expirySlot

type expirySlot struct {
	expires int64 // e.rec.expires(), kept up to date by whoever replaces e.rec
	e       *memEntry
}

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].e.index = i
	h[j].e.index = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, expirySlot{e.rec.expires(), e})
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1].e
	old[len(old)-1] = expirySlot{}
	*h = old[:len(old)-1]
	return e
}

// earliestExcept returns the slot closest to expiry other than that of the
// entry at keep: the root, or else the earlier of its two children.
func (h expiryHeap) earliestExcept(keep string) *expirySlot {
	var best *expirySlot
	for i := 0; i < len(h) && i < 3; i++ {
		if h[i].e.key == keep {
			continue
		}
		if i == 0 {
			return &h[0]
		}
		if best == nil || h[i].expires < best.expires {
			best = &h[i]
		}
	}
	return best
}
