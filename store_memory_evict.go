package session

import (
	"math"
	"time"
)

// sweepBatch bounds the removals under one shard lock, so that requests
// never wait behind a long sweep.
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
// [WithSweepInterval]), and returns how many. Its cost is proportional to
// what it removes.
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

// sweepShard removes a batch of sh's due records and reports whether more
// may remain.
func (s *MemoryStore) sweepShard(sh *memShard, now int64) (int, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for ; n < sweepBatch && len(sh.expiry) > 0 && sh.expiry[0].expires <= now; n++ {
		s.removeLocked(sh, sh.expiry[0].e)
	}
	return n, n == sweepBatch
}

// trim evicts records other than keep, the one just written, while the
// store holds more than WithMaxSessions. The store's first in eviction order
// is the first of the shards' heap tops, once those read since their last
// write are moved back (spareLocked): a few entries per shard, not every one.
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

// maxSpares bounds the records one eviction moves back for their reads.
const maxSpares = 256

// evictFirst evicts the first record other than keep and reports whether
// there was one.
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
			sh.mu.Unlock() // its new top may no longer be the store's first
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
// or nil.
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

// spareLocked moves slot back to expiresAfterRead if a Load found its record
// live since the last write, and reports whether it did. An expired record
// is never moved. Only the removal waits: the deadlines do not change.
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
// its idle deadline forward as a write does, for eviction order only.
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

// readGrain makes a session read many times a second write memEntry.read
// once a second, not once per Load.
const readGrain = int64(time.Second)

func (e *memEntry) noteRead(now int64) {
	if now-e.read.Load() > readGrain {
		e.read.Store(now)
	}
}

// expiryHeap orders a shard's entries by expiry, earliest first. Slots hold
// the expiry, so that comparisons avoid a cache miss per entry under the
// lock; it is not a container/heap, whose interface calls cost more than the
// comparisons.
type expiryHeap []expirySlot

type expirySlot struct {
	expires int64 // expiresAt(e.rec), or later if spareLocked moved it back
	e       *memEntry
}

func (h *expiryHeap) push(e *memEntry) {
	*h = append(*h, expirySlot{expiresAt(e.rec), e})
	h.up(len(*h) - 1)
}

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

// fix restores the order after the slot at i changed.
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

// down reports whether the slot at i moved.
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

// earliestExcept returns the first slot whose key is not keep: the root,
// or else the earlier of its children.
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
