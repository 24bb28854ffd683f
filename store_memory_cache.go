package session

import "sync/atomic"

// memRecentSlots is how many Records each shard of a MemoryStore keeps at
// hand, so that a session read again soon (a page and the requests it
// makes, concurrent requests) costs no new Record: a Record with its Values
// map takes about 600 bytes to build, more than the rest of a Load. With 32
// shards, at most 512 Records are kept this way, whatever the number of
// sessions; a session whose slot another one took is built again.
const memRecentSlots = 16

// memLocation is where a key lives in a MemoryStore: its shard, the slot
// of that shard that may hold a Record recently built for it, and its hash.
type memLocation struct {
	shard *memShard
	slot  *atomic.Pointer[builtRecord]
	hash  uint64
}

// locate returns the location of the key whose hash is h.
func (s *MemoryStore) locate(h uint64) memLocation {
	sh := s.shard(h)
	return memLocation{sh, &sh.recent[h/memShards%memRecentSlots], h}
}

// record returns the Record of rec, a copy of the record now at the
// location's key: the one in the slot if it was built from that record (the
// same version), or else a new one, left in the slot. A record is replaced,
// with a new version, whenever it changes, so a Record built from it is
// valid for as long as that version is the key's record.
func (l memLocation) record(rec *memRecord) *Record {
	if c := l.slot.Load(); c != nil && c.version == rec.version {
		return &c.Record
	}
	c := rec.build()
	l.slot.Store(c)
	return &c.Record
}

// forget empties the slot of the key whose hash is h, so that the values of
// a record that was removed are not kept longer than the record. (A Load
// racing with the removal may fill the slot again; what it leaves there is
// never returned, since its version is that of a record that no key holds
// any more, and goes when another Load takes the slot.)
func (s *MemoryStore) forget(h uint64) {
	s.locate(h).slot.Store(nil)
}
