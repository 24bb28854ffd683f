package session

// expiryHeap orders a shard's entries by expiry, earliest first. Each slot
// holds its entry's expiry, so that the heap's operations compare slots next
// to each other in memory instead of following a pointer to each entry: with
// a million sessions, most such pointers lead to a cache miss, and the
// sweeper holds its shard's lock meanwhile.
//
// Its operations are written for the slot type rather than through
// container/heap, whose calls through an interface cost more than the
// comparisons themselves: a new session goes last in expiry order, so its
// push is usually one comparison.
type expiryHeap []expirySlot

type expirySlot struct {
	// expires is e.rec.expires(), kept up to date by whoever changes e.rec,
	// or later for an entry eviction spared for a read (see spareLocked).
	expires int64
	e       *memEntry
}

// push adds e, whose record's expiry is that of its slot.
func (h *expiryHeap) push(e *memEntry) {
	*h = append(*h, expirySlot{e.rec.expires(), e})
	h.up(len(*h) - 1)
}

// remove takes out the slot at i.
func (h *expiryHeap) remove(i int) {
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = expirySlot{}
	*h = (*h)[:last]
	if i != last {
		h.fix(i)
	}
}

// fix restores the order after the expiry of the slot at i changed.
func (h expiryHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].e.index = i
	h[j].e.index = j
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].expires <= h[i].expires {
			break
		}
		h.swap(parent, i)
		i = parent
	}
	h[i].e.index = i
}

// down moves the slot at i towards the leaves and reports whether it moved.
func (h expiryHeap) down(i int) bool {
	start := i
	for {
		child := 2*i + 1
		if child >= len(h) || child < 0 {
			break
		}
		if right := child + 1; right < len(h) && h[right].expires < h[child].expires {
			child = right
		}
		if h[i].expires <= h[child].expires {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i > start
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
