package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allEntries returns every entry of s, under each shard's lock in turn.
func (s *MemoryStore) allEntries() []*memEntry {
	var all []*memEntry
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		all = append(all, sh.allEntriesLocked()...)
		sh.mu.RUnlock()
	}
	return all
}

// allEntriesLocked returns every entry of sh, following the chains of keys
// that share a hash.
func (sh *memShard) allEntriesLocked() []*memEntry {
	var all []*memEntry
	for _, first := range sh.entries {
		for e := first; e != nil; e = e.next {
			all = append(all, e)
		}
	}
	return all
}

// TestMemShardSharedHash: keys whose hashes are equal each keep their own
// entry, found by key, and dropping any one of them, first, middle or last
// in the chain, leaves the others.
func TestMemShardSharedHash(t *testing.T) {
	const h = 42
	keys := []string{"a", "b", "c"}
	for drop := range keys {
		sh := memShard{entries: map[uint64]*memEntry{}}
		entries := map[string]*memEntry{}
		for _, k := range keys {
			require.Nil(t, sh.get(h, k), "%s before it was put", k)
			e := &memEntry{key: k}
			sh.put(h, e)
			entries[k] = e
		}
		sh.put(h+1, &memEntry{key: "other"})
		for _, k := range keys {
			require.Same(t, entries[k], sh.get(h, k))
		}
		require.Nil(t, sh.get(h, "other"), "a key is found under its own hash only")

		sh.drop(h, entries[keys[drop]])
		assert.Nil(t, sh.get(h, keys[drop]), "dropped %s", keys[drop])
		for i, k := range keys {
			if i != drop {
				assert.Same(t, entries[k], sh.get(h, k), "%s after dropping %s", k, keys[drop])
			}
		}
		assert.Len(t, sh.allEntriesLocked(), 3)
	}

	sh := memShard{entries: map[uint64]*memEntry{}}
	e := &memEntry{key: "only"}
	sh.put(h, e)
	sh.drop(h, e)
	assert.Empty(t, sh.entries, "the last entry of a hash leaves no map entry behind")
}
