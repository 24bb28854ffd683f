package session

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// memShards is the number of independently locked parts of a MemoryStore,
// so that requests of different sessions rarely wait for one another.
const memShards = 32

// MemoryStore is the default [Store]: records in process memory, removed by a
// sweeper once they expire, with a [UserIndex]. It keeps and returns the
// Records it is given as they are, never modified: an Update stores a new one
// ([Delta.Apply]). Load returns an expired session record until the sweeper
// removes it (see [WithSweepInterval]), so that the manager reports it as
// expired.
//
// Create one with [NewMemoryStore]; the zero value is not usable. A
// MemoryStore is safe for concurrent use. Call Close to stop its sweeper.
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
	// entries is keyed by the key's hash, so that growing the map reads no
	// key's bytes; keys sharing a hash chain through memEntry.next.
	entries map[uint64]*memEntry
	expiry  expiryHeap
}

// memEntry is one key of a shard, guarded by the shard's lock but for read,
// which Load sets atomically.
type memEntry struct {
	key   string
	rec   *Record      // never modified: replaced by each write
	next  *memEntry    // the next entry whose key has the same hash
	index int          // position in the shard's expiry heap
	read  atomic.Int64 // when a Load last found rec live, in Unix ns (see noteRead)
}

func (sh *memShard) get(h uint64, key string) *memEntry {
	e := sh.entries[h]
	for e != nil && e.key != key {
		e = e.next
	}
	return e
}

// put adds e, whose key has no entry yet.
func (sh *memShard) put(h uint64, e *memEntry) {
	e.next = sh.entries[h]
	sh.entries[h] = e
}

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

// MemoryOption configures a [MemoryStore] in [NewMemoryStore].
type MemoryOption func(*MemoryStore)

// WithMaxSessions bounds the number of records (sessions and tombstones) a
// MemoryStore holds. The default, 0, means no bound.
//
// A write that takes the store past the bound evicts other records in the
// order they would expire had every Load pushed the idle deadline forward as
// a write does: a session comes its idle span (IdleDeadline − LastSeen) after
// its last write or, if later, the last Load that found it live (to within a
// second), or at its AbsoluteDeadline if sooner; a tombstone comes at its
// expiry. Sessions in use, read or written, thus go last. A record found
// expired when its turn comes goes at once. A Load changes no deadline: a
// session that is only read still expires at its IdleDeadline. One eviction
// moves back at most 256 records for their reads; should more crowd the
// front, it evicts the one it reached.
func WithMaxSessions(n int) MemoryOption {
	return func(s *MemoryStore) { s.max = n }
}

// WithSweepInterval sets how often expired records are removed in the
// background (default one minute); 0 or less turns the sweeper off, and
// [MemoryStore.Sweep] can then be called directly. Until then Load still
// returns an expired session record, with its past deadlines, for the manager
// to report and delete; the other methods treat it as gone (see [Store]). A
// record that eviction moved back for a read ([WithMaxSessions]) is removed
// by the first sweep after it would have expired had that read been a write;
// with the Manager, at most a touch interval after its deadline.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(s *MemoryStore) { s.sweepInterval = d }
}

// WithMemoryClock sets the clock the store uses to decide expiry (default
// [time.Now]). A Manager created without [WithStore] gives its default store
// its own clock.
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
// to call more than once; the store still answers after Close.
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

func (s *MemoryStore) now() int64 { return nanos(s.clock()) }

// hash picks key's shard and finds its entry there; once per operation.
func (s *MemoryStore) hash(key string) uint64 {
	return maphash.String(s.seed, key)
}

func shardIndex(h uint64) int { return int(h % memShards) }

func (s *MemoryStore) shard(h uint64) *memShard {
	return &s.shards[shardIndex(h)]
}

// Load returns the record at key, expired or not, or [ErrNotFound]; an
// expired tombstone is not found. A Load that finds a record live counts as
// activity for [WithMaxSessions].
func (s *MemoryStore) Load(ctx context.Context, key string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.RLock()
	var rec *Record
	e := sh.get(h, key)
	if e != nil {
		rec = e.rec
	}
	sh.mu.RUnlock()
	if e == nil {
		return nil, ErrNotFound
	}
	if now := s.now(); expiresAt(rec) > now {
		e.noteRead(now)
	} else if rec.Tombstone != nil {
		return nil, ErrNotFound
	}
	return rec, nil
}

// Create stores rec at key, or fails with [ErrExists] if key holds a live
// record, tombstones included. The store keeps rec itself.
func (s *MemoryStore) Create(ctx context.Context, key string, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := s.hash(key)
	sh := s.shard(h)
	sh.mu.Lock()
	if !s.claimLocked(sh, h, key) {
		sh.mu.Unlock()
		return ErrExists
	}
	s.insertLocked(sh, h, key, rec)
	sh.mu.Unlock()
	s.trim(key)
	return nil
}

// claimLocked reports whether key is free, removing an expired record there.
// A live tombstone keeps its key: one is never reused while referred to.
func (s *MemoryStore) claimLocked(sh *memShard, h uint64, key string) bool {
	e := sh.get(h, key)
	if e == nil {
		return true
	}
	if expiresAt(e.rec) > s.now() {
		return false
	}
	s.removeLocked(sh, e)
	return true
}

// Update applies d to the live record at key, or fails with [ErrNotFound]
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
	e.rec = d.Apply(old)
	if e.rec.User != old.User {
		s.unindex(old.User, key)
		s.index(e.rec.User, key)
	}
	// A write ends any reprieve eviction gave the record for a read.
	if exp := expiresAt(e.rec); exp != sh.expiry[e.index].expires {
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

// deleteChain removes the record at key and those its tombstones lead to,
// and returns how many live sessions it removed. A tombstone is read and
// removed under one lock, so a racing renewal is either refused or followed.
func (s *MemoryStore) deleteChain(key string) int {
	live := 0
	for i := 0; i < maxChain && key != ""; i++ {
		h := s.hash(key)
		sh := s.shard(h)
		sh.mu.Lock()
		e := sh.get(h, key)
		key = ""
		if e != nil {
			if t := e.rec.Tombstone; t != nil {
				key = t.Next
			} else if expiresAt(e.rec) > s.now() {
				live++
			}
			s.removeLocked(sh, e)
		}
		sh.mu.Unlock()
	}
	return live
}

// Renew moves the live record at oldKey to newKey, applying d, and leaves
// tomb (or nothing) at oldKey; see [Store].
func (s *MemoryStore) Renew(ctx context.Context, oldKey, newKey string, d Delta, tomb *Tombstone) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.renew(oldKey, newKey, d, tomb); err != nil {
		return err
	}
	s.trim(newKey)
	return nil
}

func (s *MemoryStore) renew(oldKey, newKey string, d Delta, tomb *Tombstone) error {
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
	rec := d.Apply(old.rec)
	s.removeLocked(oldSh, old)
	s.insertLocked(newSh, newH, newKey, rec)
	if tomb != nil {
		s.insertLocked(oldSh, oldH, oldKey, &Record{Tombstone: tomb, IdleDeadline: tomb.Expires, AbsoluteDeadline: tomb.Expires})
	}
	return nil
}

// UserSessions returns the live records of user, tombstones excluded.
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
		var rec *Record
		if e := sh.get(h, key); e != nil {
			rec = e.rec
		}
		sh.mu.RUnlock()
		if rec != nil && expiresAt(rec) > now && rec.Tombstone == nil && rec.User == user {
			out = append(out, KeyedRecord{Key: key, Record: rec})
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
		// The key may hold a tombstone now: the chain leads to the session.
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

// lockPair locks two shards in index order, so that two renewals cannot
// deadlock, and returns the matching unlock.
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
// expired one stays for the sweeper, so that Load reports it meanwhile.
func (s *MemoryStore) liveLocked(sh *memShard, h uint64, key string) *memEntry {
	e := sh.get(h, key)
	if e == nil || e.rec.Tombstone != nil || expiresAt(e.rec) <= s.now() {
		return nil
	}
	return e
}

func (s *MemoryStore) insertLocked(sh *memShard, h uint64, key string, rec *Record) {
	e := &memEntry{key: key, rec: rec}
	sh.put(h, e)
	sh.expiry.push(e)
	s.count.Add(1)
	s.index(rec.User, key)
}

func (s *MemoryStore) removeLocked(sh *memShard, e *memEntry) {
	sh.drop(s.hash(e.key), e)
	sh.expiry.remove(e.index)
	s.count.Add(-1)
	s.unindex(e.rec.User, e.key)
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

func expiresAt(rec *Record) int64 { return nanos(rec.ExpiresAt()) }

// The seconds whose Unix nanoseconds fit an int64, less a second each end.
const (
	minNanosSec = math.MinInt64/int64(time.Second) + 1
	maxNanosSec = math.MaxInt64/int64(time.Second) - 1
)

// nanos returns t in Unix nanoseconds, for the expiry heap's integer keys,
// clamped to the int64 range (before 1678, as the zero Time is, or after 2262).
func nanos(t time.Time) int64 {
	switch sec := t.Unix(); {
	case sec < minNanosSec:
		return math.MinInt64
	case sec > maxNanosSec:
		return math.MaxInt64
	}
	return t.UnixNano()
}
