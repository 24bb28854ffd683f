package session

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// memShards is the number of independently locked parts of a MemoryStore,
// so that requests of different sessions rarely wait for one another.
const memShards = 32

// sweepBatch bounds how many expired records one sweep removes under one
// shard lock, so that requests never wait behind a long eviction.
const sweepBatch = 256

// MemoryStore is the default Store: records in process memory, evicted when
// they expire, with a user index. Eviction cost is proportional to what
// expires: each shard keeps its records in a heap ordered by expiry, and the
// sweeper pops only the expired ones.
//
// Records are kept in a compact form (under 300 bytes of heap for a session
// of one small value, the value aside), not as the Records given to Create.
// Load and UserSessions return Records built from it, with times in UTC. A
// Record may be returned to several callers (the few built last are kept for
// the next Loads of their keys), and its Values share memory with the store:
// callers must not modify them, as the Store contract says. The store never
// modifies a Record once it has returned it.
//
// Create one with NewMemoryStore; the zero value is not usable. A MemoryStore
// is safe for concurrent use. Call Close to stop its sweeper.
type MemoryStore struct {
	seed          maphash.Seed
	shards        [memShards]memShard
	count         atomic.Int64
	max           int
	clock         func() time.Time
	sweepInterval time.Duration

	usersMu sync.Mutex
	users   map[string]map[string]struct{} // user → keys

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type memShard struct {
	mu sync.RWMutex
	// entries finds a key's entry by the key's hash (see MemoryStore.hash);
	// the rare keys that share a hash are chained through memEntry.next.
	// Keyed by an integer, the map never reads a key's bytes when it grows,
	// which a map keyed by strings does for every key it moves.
	entries map[uint64]*memEntry
	expiry  expiryHeap
	recent  [memRecentSlots]atomic.Pointer[builtRecord]
	version uint64 // the last version given to a record of the shard
}

// memEntry is one record in a shard, held inline: one allocation per
// session, and none for an update. It is read and written only under the
// shard's lock; Load takes a copy of rec.
type memEntry struct {
	key   string
	rec   memRecord
	next  *memEntry // the next entry whose key has the same hash, or nil
	index int       // position in the shard's expiry heap
}

// get returns the entry of key, whose hash is h, or nil.
func (sh *memShard) get(h uint64, key string) *memEntry {
	e := sh.entries[h]
	for e != nil && e.key != key {
		e = e.next
	}
	return e
}

// put adds e, whose key has hash h and no entry yet.
func (sh *memShard) put(h uint64, e *memEntry) {
	e.next = sh.entries[h]
	sh.entries[h] = e
}

// drop removes e, whose key has hash h.
func (sh *memShard) drop(h uint64, e *memEntry) {
	first := sh.entries[h]
	if first == e {
		if e.next == nil {
			delete(sh.entries, h)
		} else {
			sh.entries[h] = e.next
		}
		return
	}
	for prev := first; prev != nil; prev = prev.next {
		if prev.next == e {
			prev.next = e.next
			return
		}
	}
}

// setLocked makes r the record of e, with a new version.
func (sh *memShard) setLocked(e *memEntry, r memRecord) {
	sh.version++
	r.version = sh.version
	e.rec = r
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// WithMaxSessions bounds the number of records (sessions and tombstones) a
// MemoryStore holds. When a write takes it past the bound, the records
// closest to expiry are evicted (never the one just written): sessions idle
// the longest, or nearest their absolute deadline, go first, and recently
// active ones last. The default, 0, means no bound.
func WithMaxSessions(n int) MemoryOption {
	return func(s *MemoryStore) { s.max = n }
}

// WithSweepInterval sets how often expired records are evicted in the
// background (default one minute). Expired records are never returned by
// Load, whenever they are evicted. An interval of 0 or less turns the
// background sweeper off; Sweep can then be called directly.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(s *MemoryStore) { s.sweepInterval = d }
}

// WithMemoryClock sets the clock the store uses to decide expiry (default
// time.Now). A Manager created without WithStore gives its default store its
// own clock.
func WithMemoryClock(now func() time.Time) MemoryOption {
	return func(s *MemoryStore) { s.clock = now }
}

// NewMemoryStore returns a MemoryStore with its background sweeper running.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{
		seed:          maphash.MakeSeed(),
		clock:         time.Now,
		sweepInterval: time.Minute,
		users:         make(map[string]map[string]struct{}),
		done:          make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].entries = make(map[uint64]*memEntry)
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.sweepInterval <= 0 {
		close(s.done)
		return s
	}
	s.stop = make(chan struct{})
	go s.sweepEvery(s.sweepInterval)
	return s
}

// Close stops the background sweeper and waits for it to return. It is safe
// to call more than once. The store still answers after Close.
func (s *MemoryStore) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			close(s.stop)
		}
	})
	<-s.done
	return nil
}

// Len returns the number of records held, tombstones included.
func (s *MemoryStore) Len() int { return int(s.count.Load()) }

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

// Sweep evicts every record that has expired and returns how many. Its cost
// is proportional to what expires, and it never holds a lock for more than
// a small batch of evictions.
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

// sweepShard evicts up to sweepBatch expired records of sh and reports
// whether more may remain.
func (s *MemoryStore) sweepShard(sh *memShard, now int64) (int, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for n := 0; n < sweepBatch; n++ {
		if len(sh.expiry) == 0 || sh.expiry[0].expires > now {
			return n, false
		}
		s.removeLocked(sh, sh.expiry[0].e)
	}
	return sweepBatch, true
}

// now returns the store's clock in Unix nanoseconds.
func (s *MemoryStore) now() int64 { return nanos(s.clock()) }

// hash returns the hash of key that picks its shard and finds its entry
// there. It is computed once per operation.
func (s *MemoryStore) hash(key string) uint64 {
	return maphash.String(s.seed, key)
}

func shardIndex(h uint64) int { return int(h % memShards) }

func (s *MemoryStore) shard(h uint64) *memShard {
	return &s.shards[shardIndex(h)]
}

// Load returns the live record at key, or ErrNotFound.
func (s *MemoryStore) Load(ctx context.Context, key string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	loc := s.locate(s.hash(key))
	loc.shard.mu.RLock()
	var rec memRecord
	e := loc.shard.get(loc.hash, key)
	if e != nil {
		rec = e.rec
	}
	loc.shard.mu.RUnlock()
	if e == nil || rec.expires() <= s.now() {
		return nil, ErrNotFound
	}
	return loc.record(&rec), nil
}

// Create stores rec at key, or fails with ErrExists if key holds a live
// record or a tombstone.
func (s *MemoryStore) Create(ctx context.Context, key string, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.insertNew(key, newMemRecord(rec))
}

// createCompact is Create for a record whose Values are nil and whose
// values are given already encoded (see applyValues): the manager creates
// sessions so, without building a map that the store would only encode.
// The store keeps values, which must not be modified afterwards.
func (s *MemoryStore) createCompact(ctx context.Context, key string, rec *Record, values []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.insertNew(key, newMemRecordValues(rec, values))
}

// insertNew stores r at key, or fails with ErrExists.
func (s *MemoryStore) insertNew(key string, r memRecord) error {
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.Lock()
	if !s.claimLocked(sh, h, key) {
		sh.mu.Unlock()
		return ErrExists
	}
	s.insertLocked(sh, h, key, r)
	sh.mu.Unlock()
	s.trim(key)
	return nil
}

// claimLocked reports whether key is free for a new record, evicting an
// expired one there. A tombstone keeps its key taken: a key is never reused
// while anything still refers to it.
func (s *MemoryStore) claimLocked(sh *memShard, h uint64, key string) bool {
	e := sh.get(h, key)
	if e == nil {
		return true
	}
	if e.rec.expires() > s.now() {
		return false
	}
	s.removeLocked(sh, e)
	return true
}

// Update applies d to the live record at key, or fails with ErrNotFound.
func (s *MemoryStore) Update(ctx context.Context, key string, d Delta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.liveLocked(sh, h, key)
	if e == nil {
		return ErrNotFound
	}
	old := e.rec
	sh.setLocked(e, old.apply(&d))
	if e.rec.user != old.user {
		s.unindex(old.user, key)
		s.index(e.rec.user, key)
	}
	if exp := e.rec.expires(); exp != old.expires() {
		sh.expiry[e.index].expires = exp
		sh.expiry.fix(e.index)
	}
	return nil
}

// maxChain bounds how many renewals Delete follows from one key.
const maxChain = 8

// Delete removes the record at key, and the records its renewals lead to.
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.deleteChain(key)
	return nil
}

// deleteChain removes the record at key and, while it finds tombstones,
// the records they lead to; it returns how many live sessions it removed.
// Each step holds one shard lock, and reading a tombstone and removing it
// happen under that lock, so a renewal racing with the deletion is either
// refused (its record is gone) or followed (its tombstone is read).
func (s *MemoryStore) deleteChain(key string) int {
	live := 0
	for i := 0; i < maxChain && key != ""; i++ {
		h := s.hash(key)
		sh := s.shard(h)
		sh.mu.Lock()
		e := sh.get(h, key)
		key = ""
		if e != nil {
			if t := e.rec.tomb; t != nil {
				key = t.Next
			} else if e.rec.expires() > s.now() {
				live++
			}
			s.removeLocked(sh, e)
		}
		sh.mu.Unlock()
	}
	return live
}

// Renew moves the live record at oldKey to newKey, applying d, and leaves
// tomb (or nothing) at oldKey.
func (s *MemoryStore) Renew(ctx context.Context, oldKey, newKey string, d Delta, tomb *Tombstone, tombExpires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.renewLocked(oldKey, newKey, d, tomb, tombExpires); err != nil {
		return err
	}
	s.trim(newKey)
	return nil
}

func (s *MemoryStore) renewLocked(oldKey, newKey string, d Delta, tomb *Tombstone, tombExpires time.Time) error {
	oldH, newH := s.hash(oldKey), s.hash(newKey)
	oldSh, newSh := s.shard(oldH), s.shard(newH)
	unlock := s.lockPair(shardIndex(oldH), shardIndex(newH))
	defer unlock()
	old := s.liveLocked(oldSh, oldH, oldKey)
	if old == nil {
		return ErrNotFound
	}
	if !s.claimLocked(newSh, newH, newKey) {
		return ErrExists
	}
	rec := old.rec.apply(&d)
	s.removeLocked(oldSh, old)
	s.insertLocked(newSh, newH, newKey, rec)
	if tomb != nil {
		s.insertLocked(oldSh, oldH, oldKey, newMemTombstone(tomb, tombExpires))
	}
	return nil
}

// UserSessions returns the live records of user.
func (s *MemoryStore) UserSessions(ctx context.Context, user string) ([]KeyedRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	var out []KeyedRecord
	for _, key := range s.userKeys(user) {
		h := s.hash(key)
		sh := s.shard(h)
		sh.mu.RLock()
		var rec memRecord
		e := sh.get(h, key)
		if e != nil {
			rec = e.rec
		}
		sh.mu.RUnlock()
		if e != nil && rec.expires() > now && rec.tomb == nil && rec.user == user {
			out = append(out, KeyedRecord{Key: key, Record: &rec.build().Record})
		}
	}
	return out, nil
}

// DeleteUser removes every record of user and returns how many were live.
func (s *MemoryStore) DeleteUser(ctx context.Context, user string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, key := range s.userKeys(user) {
		// A key listed for user holds the user's session, or a tombstone
		// if it was renewed since: deleting the chain ends it either way.
		n += s.deleteChain(key)
	}
	return n, nil
}

func (s *MemoryStore) userKeys(user string) []string {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	keys := make([]string, 0, len(s.users[user]))
	for k := range s.users[user] {
		keys = append(keys, k)
	}
	return keys
}

// lockPair locks two shards in a fixed order, so that two renewals never
// wait for each other, and returns the matching unlock.
func (s *MemoryStore) lockPair(i, j int) func() {
	if i == j {
		s.shards[i].mu.Lock()
		return s.shards[i].mu.Unlock
	}
	if j < i {
		i, j = j, i
	}
	first, second := &s.shards[i], &s.shards[j]
	first.mu.Lock()
	second.mu.Lock()
	return func() {
		second.mu.Unlock()
		first.mu.Unlock()
	}
}

// liveLocked returns the live, non-tombstone entry at key, evicting it if it
// has expired.
func (s *MemoryStore) liveLocked(sh *memShard, h uint64, key string) *memEntry {
	e := sh.get(h, key)
	if e == nil {
		return nil
	}
	if e.rec.expires() <= s.now() {
		s.removeLocked(sh, e)
		return nil
	}
	if e.rec.tomb != nil {
		return nil
	}
	return e
}

func (s *MemoryStore) insertLocked(sh *memShard, h uint64, key string, rec memRecord) {
	e := &memEntry{key: key}
	sh.setLocked(e, rec)
	sh.put(h, e)
	sh.expiry.push(e)
	s.count.Add(1)
	s.index(e.rec.user, key)
}

func (s *MemoryStore) removeLocked(sh *memShard, e *memEntry) {
	h := s.hash(e.key)
	sh.drop(h, e)
	sh.expiry.remove(e.index)
	s.count.Add(-1)
	s.unindex(e.rec.user, e.key)
	s.forget(h)
}

func (s *MemoryStore) index(user, key string) {
	if user == "" {
		return
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	keys := s.users[user]
	if keys == nil {
		keys = make(map[string]struct{})
		s.users[user] = keys
	}
	keys[key] = struct{}{}
}

func (s *MemoryStore) unindex(user, key string) {
	if user == "" {
		return
	}
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	delete(s.users[user], key)
	if len(s.users[user]) == 0 {
		delete(s.users, user)
	}
}

// trim evicts the records closest to expiry while the store holds more than
// WithMaxSessions, sparing keep, the record just written. The earliest record
// of the whole store is the earliest of the shards' heap tops, so finding it
// looks at a few entries per shard, not at every record.
func (s *MemoryStore) trim(keep string) {
	if s.max <= 0 {
		return
	}
	for int(s.count.Load()) > s.max {
		if !s.evictEarliest(keep) {
			return
		}
	}
}

func (s *MemoryStore) evictEarliest(keep string) bool {
	var victim *memShard
	var earliest int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if slot := sh.expiry.earliestExcept(keep); slot != nil && (victim == nil || slot.expires < earliest) {
			victim, earliest = sh, slot.expires
		}
		sh.mu.RUnlock()
	}
	if victim == nil {
		return false
	}
	victim.mu.Lock()
	if slot := victim.expiry.earliestExcept(keep); slot != nil {
		s.removeLocked(victim, slot.e)
	}
	victim.mu.Unlock()
	return true
}
