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

// MemoryStore is the default Store: records in process memory, removed by a
// sweeper once they expire, with a user index. Sweeping costs in proportion
// to what expires: each shard keeps its records in a heap ordered by expiry,
// and the sweeper pops only the expired ones. Until the sweeper removes a
// session record that expired, Load still returns it, with its past
// deadlines, so that the manager reports it as expired (see
// WithSweepInterval).
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
	// late holds the entries that eviction spared for a read (see
	// spareLocked): their slots in expiry are later than their expiry, so
	// the sweeper looks for them here.
	late    []*memEntry
	recent  [memRecentSlots]atomic.Pointer[builtRecord]
	version uint64 // the last version given to a record of the shard
}

// memEntry is one record in a shard, held inline: one allocation per
// session, and none for an update. It is read and written only under the
// shard's lock, but for read, which Load sets atomically after taking a
// copy of rec under the read lock. (An entry always holds the record of one
// key, so a Load noting its read after the entry was removed changes
// nothing that matters.)
type memEntry struct {
	key   string
	rec   memRecord
	next  *memEntry // the next entry whose key has the same hash, or nil
	index int       // position in the shard's expiry heap
	late  int       // 1 + position in the shard's late list; 0 if not there
	// read is when a Load last found the record live, in Unix nanoseconds,
	// noted at most once per readGrain; 0 if never.
	read atomic.Int64
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

// markLate adds e to the shard's late list, if it is not there.
func (sh *memShard) markLate(e *memEntry) {
	if e.late == 0 {
		sh.late = append(sh.late, e)
		e.late = len(sh.late)
	}
}

// dropLate takes e out of the shard's late list, if it is there.
func (sh *memShard) dropLate(e *memEntry) {
	if e.late == 0 {
		return
	}
	last := len(sh.late) - 1
	moved := sh.late[last]
	sh.late[e.late-1], moved.late = moved, e.late
	sh.late[last] = nil
	sh.late = sh.late[:last]
	e.late = 0
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
// MemoryStore holds. The default, 0, means no bound.
//
// When a write takes the store past the bound, it evicts records, never the
// one just written, in the order in which they would expire had every Load
// pushed the idle deadline forward as a write does. A session's last
// activity is its last write (LastSeen) or, if later, the last Load that
// found it live (noted to within a second); it comes its idle span
// (IdleDeadline − LastSeen) after that activity, or at its AbsoluteDeadline
// if sooner; a tombstone comes at its expiry. Sessions idle the longest, or
// nearest their absolute deadline, thus go first, and sessions in use, read
// or written, last. A record found expired when its turn comes goes at
// once; one that expired after a Load had moved it back keeps its place
// until the sweeper removes it. A Load changes no deadline: a session that
// is only read still expires at its IdleDeadline. One eviction moves back
// at most 256 records for their reads; should more crowd the front, it
// evicts the one it reached.
func WithMaxSessions(n int) MemoryOption {
	return func(s *MemoryStore) { s.max = n }
}

// WithSweepInterval sets how often expired records are removed in the
// background (default one minute). Until then Load still returns an expired
// session record, with its past deadlines, for the manager to report and
// delete; Update and Renew refuse it with ErrNotFound, UserSessions does not
// list it, and Create may take its key. (Load never returns an expired
// tombstone.) An interval of 0 or less turns the background sweeper off;
// Sweep can then be called directly.
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

// Sweep removes every record that has expired and returns how many. Its
// cost is proportional to what expires (and to the records eviction spared
// for a read, see WithMaxSessions), and it never holds a lock for more than
// a small batch of removals.
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

// sweepShard removes up to sweepBatch expired records of sh, from its heap
// and then from its late list, and reports whether more may remain.
func (s *MemoryStore) sweepShard(sh *memShard, now int64) (int, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for ; n < sweepBatch && len(sh.expiry) > 0 && sh.expiry[0].expires <= now; n++ {
		s.removeLocked(sh, sh.expiry[0].e)
	}
	// Backwards, since removing an entry moves the last one to its place.
	for i := len(sh.late) - 1; i >= 0 && n < sweepBatch; i-- {
		if e := sh.late[i]; e.rec.expires() <= now {
			s.removeLocked(sh, e)
			n++
		}
	}
	return n, n == sweepBatch
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

// Load returns the record at key, expired or not, or ErrNotFound; an
// expired tombstone is not found. A Load that finds a record live counts as
// activity for WithMaxSessions.
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
	if e == nil {
		return nil, ErrNotFound
	}
	if now := s.now(); rec.expires() > now {
		e.noteRead(now)
	} else if rec.tomb != nil {
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

// claimLocked reports whether key is free for a new record, removing an
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

// Update applies d to the live record at key, or fails with ErrNotFound
// (the record is missing, expired or a tombstone).
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
	// A write ends any reprieve eviction gave the record for a read.
	sh.dropLate(e)
	if exp := e.rec.expires(); exp != sh.expiry[e.index].expires {
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

// liveLocked returns the live, non-tombstone entry at key, or nil. An
// expired entry stays for the sweeper: until then Load returns it, so that
// the manager reports it as expired.
func (s *MemoryStore) liveLocked(sh *memShard, h uint64, key string) *memEntry {
	e := sh.get(h, key)
	if e == nil || e.rec.tomb != nil || e.rec.expires() <= s.now() {
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
	sh.dropLate(e)
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
// memRecord.expiresAfterRead). It reports whether it moved it. An expired
// record is never moved. The record's deadlines do not change: the sweeper
// finds it in the late list once it expires.
func (s *MemoryStore) spareLocked(sh *memShard, slot *expirySlot) bool {
	e := slot.e
	later := e.rec.expiresAfterRead(e.read.Load())
	if later <= slot.expires || e.rec.expires() <= s.now() {
		return false
	}
	slot.expires = later
	sh.expiry.fix(e.index)
	sh.markLate(e)
	return true
}
