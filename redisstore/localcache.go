package redisstore

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionid/session"
)

// localCache keeps records the store read from Redis, by Redis key, for at
// most maxAge each. Entries are used only while every tracker (tracking.go)
// holds a working invalidation channel; a tracker that loses its channel
// drops them all.
//
// A read that races with an invalidation must not put the old record back
// after the invalidation removed it. Each shard counts the invalidations of
// its keys; a read notes the count before it asks Redis (begin) and keeps
// its reply only if the count is unchanged (put). Invalidations of other
// keys of the shard cost such a read its entry, never correctness.
type localCache struct {
	maxAge     time.Duration
	perShard   int          // entries a shard keeps at most
	unhealthy  atomic.Int32 // trackers without a working channel
	seed       maphash.Seed
	shards     [cacheShards]cacheShard
	hits, miss atomic.Uint64
}

const cacheShards = 64

type cacheShard struct {
	mu      sync.Mutex
	seq     uint64 // invalidations of this shard's keys, and drops
	entries map[string]cacheEntry
}

type cacheEntry struct {
	rec *session.Record
	at  time.Time // when the read that brought it was sent (monotonic)
}

// cacheTicket is what begin hands to put.
type cacheTicket struct {
	shard *cacheShard
	seq   uint64
	at    time.Time
}

func newLocalCache(maxAge time.Duration, maxEntries int) *localCache {
	c := &localCache{maxAge: maxAge, perShard: max(1, maxEntries/cacheShards), seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]cacheEntry)
	}
	return c
}

func (c *localCache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)%cacheShards]
}

// get returns the record cached for key if it is younger than maxAge and
// every invalidation channel works.
func (c *localCache) get(key string) *session.Record {
	if c.unhealthy.Load() != 0 {
		return nil
	}
	sh := c.shard(key)
	sh.mu.Lock()
	e, ok := sh.entries[key]
	sh.mu.Unlock()
	if !ok || time.Since(e.at) >= c.maxAge {
		c.miss.Add(1)
		return nil
	}
	c.hits.Add(1)
	return e.rec
}

// begin is called before a read of key from Redis.
func (c *localCache) begin(key string) cacheTicket {
	sh := c.shard(key)
	sh.mu.Lock()
	seq := sh.seq
	sh.mu.Unlock()
	return cacheTicket{shard: sh, seq: seq, at: time.Now()}
}

// put keeps rec, read from key after begin returned t, unless key's shard
// saw an invalidation or a drop since, or a channel is down.
func (c *localCache) put(t cacheTicket, key string, rec *session.Record) {
	if c.unhealthy.Load() != 0 {
		return
	}
	sh := t.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.seq != t.seq {
		return
	}
	if _, ok := sh.entries[key]; !ok && len(sh.entries) >= c.perShard {
		for k := range sh.entries { // an arbitrary entry makes room
			delete(sh.entries, k)
			break
		}
	}
	sh.entries[key] = cacheEntry{rec: rec, at: t.at}
}

// invalidate forgets keys, and spoils the reads of their shards in flight.
func (c *localCache) invalidate(keys ...string) {
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		sh.seq++
		delete(sh.entries, k)
		sh.mu.Unlock()
	}
}

// dropAll forgets every entry and spoils every read in flight.
func (c *localCache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.seq++
		clear(sh.entries)
		sh.mu.Unlock()
	}
}

// down records that a tracker lost its channel: nothing cached is used, and
// nothing kept, until it is back (up).
func (c *localCache) down() {
	c.unhealthy.Add(1)
	c.dropAll()
}

// up records that a tracker has a working channel again.
func (c *localCache) up() { c.unhealthy.Add(-1) }
