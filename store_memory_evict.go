package session

import (
	"math"
	"time"
)

// This file keeps a MemoryStore's records in order: by expiry for the
// sweeper, and by last activity for eviction when the store is full.

// sweepBatch bounds how many expired records one sweep removes under one
// shard lock, so that requests never wait behind a long eviction.
const sweepBatch = 256

func (s *MemoryStore) sweepEvery(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep removes every record that has expired, but those that eviction
// moved back for a read and whose later moment has not come yet (see
// WithSweepInterval), and returns how many. Its cost is proportional to
// what it removes, and it never holds a lock for more than a small batch of
// removals.
func (s *MemoryStore) Sweep() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		for {
			removed, more := s.sweepShard(&s.shards[i], now)
			n += removed
			if !more {
				break
			}
		}
	}
	return n
}

// sweepShard removes up to sweepBatch records of sh whose heap key passed,
// and reports whether more may remain.
func (s *MemoryStore) sweepShard(sh *memShard, now int64) (int, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for ; n < sweepBatch && len(sh.expiry) > 0 && sh.expiry[0].expires <= now; n++ {
		s.removeLocked(sh, sh.expiry[0].e)
	}
	return n, n == sweepBatch
}

// trim evicts records while the store holds more than WithMaxSessions,
// sparing keep, the record just written, in the order WithMaxSessions
// describes. The first record of the whole store in that order is the first
// of the shards' heap tops, once the tops read since their last write are
// moved to their place (see spareLocked), so finding it looks at a few
// entries per shard, not at every record.
func (s *MemoryStore) trim(keep string) {
	if s.max <= 0 {
		return
	}
	for int(s.count.Load()) > s.max {
		if !s.evictFirst(keep) {
			return
		}
	}
}

// maxSpares bounds how many records one eviction spares for their reads.
const maxSpares = 256

// evictFirst evicts the first record in eviction order other than keep, and
// reports whether there was one.
func (s *MemoryStore) evictFirst(keep string) bool {
	for spares := maxSpares; ; {
		sh := s.earliestShard(keep)
		if sh == nil {
			return false
		}
		sh.mu.Lock()
		slot, spared := sh.expiry.earliestExcept(keep), false
		for slot != nil && spares > 0 && s.spareLocked(sh, slot) {
			slot, spared, spares = sh.expiry.earliestExcept(keep), true, spares-1
		}
		if spared && spares > 0 {
			// The shard's new top may no longer be the store's first.
			sh.mu.Unlock()
			continue
		}
		if slot != nil {
			s.removeLocked(sh, slot.e)
		}
		sh.mu.Unlock()
		return true
	}
}

// earliestShard returns the shard whose heap top, keep aside, comes first,
// or nil if the store holds nothing but keep.
func (s *MemoryStore) earliestShard(keep string) *memShard {
	var first *memShard
	var earliest int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if slot := sh.expiry.earliestExcept(keep); slot != nil && (first == nil || slot.expires < earliest) {
			first, earliest = sh, slot.expires
		}
		sh.mu.RUnlock()
	}
	return first
}

// spareLocked moves the entry of slot, in sh's heap, back to its place in
// eviction order if a Load found it live since its last write: to when it
// would expire had that read pushed its idle deadline forward (see
// expiresAfterRead). It reports whether it moved it. An expired record is
// never moved. The record's deadlines do not change: it expires as before,
// and Load reports it expired; only its removal waits for the later key.
func (s *MemoryStore) spareLocked(sh *memShard, slot *expirySlot) bool {
	e := slot.e
	later := expiresAfterRead(e.rec, e.read.Load())
	if later <= slot.expires || expiresAt(e.rec) <= s.now() {
		return false
	}
	slot.expires = later
	sh.expiry.fix(e.index)
	return true
}

// expiresAfterRead returns when rec would expire had a Load at read pushed
// its idle deadline forward as a write does: its idle span (IdleDeadline −
// LastSeen) after read, or its absolute deadline if that comes first. It is
// rec's expiry if read is not after LastSeen, or rec is a tombstone or has
// no LastSeen. It orders evictions; it never decides expiry.
func expiresAfterRead(rec *Record, read int64) int64 {
	lastSeen := nanos(rec.LastSeen)
	if rec.Tombstone != nil || rec.LastSeen.IsZero() || read <= lastSeen {
		return expiresAt(rec)
	}
	idle := nanos(rec.IdleDeadline)
	moved := idle + (read - lastSeen)
	if moved < idle { // overflowed
		moved = math.MaxInt64
	}
	return min(moved, nanos(rec.AbsoluteDeadline))
}

// readGrain is how far a Load must be from the last one noted to be noted
// in memEntry.read: a session read many times a second costs one write of
// the field a second, not one per Load.
const readGrain = int64(time.Second)

// noteRead notes a Load at now that found e's record live.
func (e *memEntry) noteRead(now int64) {
	if now-e.read.Load() > readGrain {
		e.read.Store(now)
	}
}

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
	// expires is expiresAt(e.rec), kept up to date by whoever changes e.rec,
	// or later for an entry eviction spared for a read (see spareLocked).
	expires int64
	e       *memEntry
}

// push adds e, whose record's expiry is that of its slot.
func (h *expiryHeap) push(e *memEntry) {
	*h = append(*h, expirySlot{expiresAt(e.rec), e})
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
