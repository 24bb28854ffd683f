package session

import "slices"

// pending holds a request's changes to its session's values and user. Slices
// rather than maps, as requests change few keys: no hashing, and the common
// single Set allocates nothing.
type pending struct {
	set     []pendingValue // at most one entry per key; starts in first
	first   [1]pendingValue
	deleted []string // stored keys to remove; never also in set
	cleared bool     // every stored value is to go
	user    *string  // a Login's user
}

type pendingValue struct {
	key string
	v   any
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

func (p *pending) put(key string, v any) {
	if i := slices.Index(p.deleted, key); i >= 0 {
		p.deleted = slices.Delete(p.deleted, i, i+1)
	}
	for i := range p.set {
		if p.set[i].key == key {
			p.set[i].v = v
			return
		}
	}
	if p.set == nil {
		p.set = p.first[:0]
	}
	p.set = append(p.set, pendingValue{key, v})
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

func (p *pending) reset() { *p = pending{} }

func (p *pending) changes() bool {
	return len(p.set) > 0 || len(p.deleted) > 0 || p.cleared || p.user != nil
}

// writes reports whether the changes give a new session something to store.
func (p *pending) writes() bool { return len(p.set) > 0 || p.user != nil }

func (p *pending) delta(codec Codec) (Delta, error) {
	d := Delta{Clear: p.cleared, User: p.user}
	if len(p.set) > 0 {
		d.Set = make(map[string][]byte, len(p.set))
		for _, pv := range p.set {
			data, err := codec.Encode(pv.v)
			if err != nil {
				return Delta{}, err
			}
			d.Set[pv.key] = data
		}
	}
	if len(p.deleted) > 0 {
		d.Delete = slices.Clone(p.deleted)
		slices.Sort(d.Delete)
	}
	return d, nil
}

// values encodes the values set, for a new session. Encoding on the stack
// first makes the Values one allocation.
func (p *pending) values(codec Codec) (Values, error) {
	if len(p.set) == 0 {
		return Values{}, nil
	}
	var scratch [256]byte
	var endsRoom [8]int
	encoded, ends := scratch[:0], endsRoom[:0] // value i is encoded[ends[i-1]:ends[i]]
	var b valuesBuilder
	for _, pv := range p.set {
		start := len(encoded)
		var err error
		if encoded, err = appendEncoded(encoded, codec, pv.v); err != nil {
			return Values{}, err
		}
		ends = append(ends, len(encoded))
		b.size(pv.key, encoded[start:])
	}
	b.start()
	start := 0
	for i, pv := range p.set {
		b.add(pv.key, encoded[start:ends[i]])
		start = ends[i]
	}
	return b.values(), nil
}
