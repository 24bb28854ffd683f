package session

import "slices"

// pending holds a request's changes to its session's values and user. Slices
// rather than maps, as requests change few keys: no hashing, and the common
// single Set allocates nothing.
type pending struct {
	set      []pendingValue // at most one entry per key; starts in first
	first    [1]pendingValue
	deleted  []string // stored keys to remove; never also in set
	cleared  bool     // every stored value is to go
	user     *string  // a Login's user
	remember *bool    // a RememberMe's choice

	// room holds small encodings, so that a Set of a small value allocates
	// nothing; roomUsed only grows, so bytes handed to a store in a Delta
	// are never written over.
	room     [128]byte
	roomUsed int
}

type pendingValue struct {
	key string
	v   any
	enc []byte // v encoded by the manager's Codec
}

func (p *pending) value(key string) (any, bool) {
	for i := range p.set {
		if p.set[i].key == key {
			return p.set[i].v, true
		}
	}
	return nil, false
}

// hides reports whether the stored value of key no longer counts.
func (p *pending) hides(key string) bool {
	return p.cleared || slices.Contains(p.deleted, key)
}

// encode encodes v with codec, in room when it fits.
func (p *pending) encode(codec Codec, v any) ([]byte, error) {
	free := p.room[p.roomUsed:p.roomUsed:len(p.room)]
	enc, err := appendEncoded(free, codec, v)
	if err != nil {
		return nil, err
	}
	// The room was used if the encoding landed at its free space's start
	// (appendEncoded reallocates what does not fit).
	if len(enc) > 0 && cap(free) > 0 && &enc[0] == &p.room[p.roomUsed] {
		p.roomUsed += len(enc)
	}
	return enc[:len(enc):len(enc)], nil
}

func (p *pending) put(key string, v any, enc []byte) {
	if i := slices.Index(p.deleted, key); i >= 0 {
		p.deleted = slices.Delete(p.deleted, i, i+1)
	}
	for i := range p.set {
		if p.set[i].key == key {
			p.set[i].v, p.set[i].enc = v, enc
			return
		}
	}
	if p.set == nil {
		p.set = p.first[:0]
	}
	p.set = append(p.set, pendingValue{key, v, enc})
}

// remove drops key; stored says whether the store holds a value for it.
func (p *pending) remove(key string, stored bool) {
	p.set = slices.DeleteFunc(p.set, func(pv pendingValue) bool { return pv.key == key })
	if stored && !slices.Contains(p.deleted, key) {
		p.deleted = append(p.deleted, key)
	}
}

func (p *pending) clear() {
	p.set, p.deleted, p.cleared = nil, nil, true
}

// reset forgets every change; the room's used bytes stay as they are.
func (p *pending) reset() {
	used := p.roomUsed
	p.set, p.first, p.deleted, p.cleared, p.user, p.remember = nil, [1]pendingValue{}, nil, false, nil, nil
	p.roomUsed = used
}

func (p *pending) changes() bool {
	return len(p.set) > 0 || len(p.deleted) > 0 || p.cleared || p.user != nil || p.remember != nil
}

// writes reports whether the changes give a new session something to store.
func (p *pending) writes() bool { return len(p.set) > 0 || p.user != nil }

func (p *pending) delta() Delta {
	d := Delta{Clear: p.cleared, User: p.user, Remember: p.remember}
	if len(p.set) > 0 {
		d.Set = make(map[string][]byte, len(p.set))
		for _, pv := range p.set {
			d.Set[pv.key] = pv.enc
		}
	}
	if len(p.deleted) > 0 {
		d.Delete = slices.Clone(p.deleted)
		slices.Sort(d.Delete)
	}
	return d
}

// values returns the values set, for a new session.
func (p *pending) values() Values {
	var b valuesBuilder
	for _, pv := range p.set {
		b.size(pv.key, pv.enc)
	}
	b.start()
	for _, pv := range p.set {
		b.add(pv.key, pv.enc)
	}
	return b.values()
}

// size returns the size of the values stored (in stored) after the
// changes, with key set to enc: every key's and value's length.
func (p *pending) size(stored Values, key string, enc []byte) int {
	n := len(key) + len(enc)
	for _, pv := range p.set {
		if pv.key != key {
			n += len(pv.key) + len(pv.enc)
		}
	}
	if p.cleared {
		return n
	}
	for k, v := range stored.All() {
		if _, set := p.value(k); !set && k != key && !slices.Contains(p.deleted, k) {
			n += len(k) + len(v)
		}
	}
	return n
}
