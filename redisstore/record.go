package redisstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sessionid/session"
)

// Fields of a session hash (the layout is described in doc.go). A value
// field is valuePrefix followed by the value's name; metadata fields start
// with "m", so no value name can ever collide with them.
const (
	valuePrefix    = "v"
	fieldCreated   = "mc"
	fieldLastSeen  = "ml"
	fieldIssued    = "mi"
	fieldIdle      = "md"
	fieldAbsolute  = "ma"
	fieldUser      = "mu"
	fieldClientIP  = "mp"
	fieldUserAgent = "mg"
	fieldRemember  = "mr"
	fieldVersion   = "mn"
	fieldNext      = "mt"
	fieldSuccessor = "ms"
	fieldGrace     = "mw"
)

// errCorrupt reports a session hash the store cannot read back.
var errCorrupt = errors.New("redisstore: malformed session hash")

// micros encodes t as decimal Unix microseconds, the zero time as "" (its
// field is then left out, or in a delta, left unchanged).
func micros(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// parseMicros decodes micros; an absent field is the zero time.
func parseMicros(s string, ok bool) (time.Time, error) {
	if !ok || s == "" {
		return time.Time{}, nil
	}
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q", errCorrupt, s)
	}
	return time.UnixMicro(us), nil
}

// newVersion returns the version a record starts with. It is random rather
// than zero so that a record deleted and created again at the same key
// never looks unchanged to a renewal in cluster mode.
func newVersion() string { return strconv.FormatUint(rand.Uint64()>>2, 10) }

// encodeRecord returns rec as field/value pairs for HSET, with version.
func encodeRecord(rec *session.Record, version string) []any {
	pairs := make([]any, 0, 2*(rec.Values.Len()+12))
	for name, v := range rec.Values.All() {
		pairs = append(pairs, valuePrefix+name, v)
	}
	add := func(field, value string) {
		if value != "" {
			pairs = append(pairs, field, value)
		}
	}
	add(fieldCreated, micros(rec.CreatedAt))
	add(fieldLastSeen, micros(rec.LastSeen))
	add(fieldIssued, micros(rec.IssuedAt))
	add(fieldIdle, micros(rec.IdleDeadline))
	add(fieldAbsolute, micros(rec.AbsoluteDeadline))
	add(fieldUser, rec.User)
	if rec.ClientIP.IsValid() {
		add(fieldClientIP, rec.ClientIP.String())
	}
	add(fieldUserAgent, rec.UserAgent)
	if rec.Remember {
		add(fieldRemember, "1")
	}
	add(fieldVersion, version)
	if rec.Tombstone != nil {
		pairs = append(pairs, tombstoneFields(rec.Tombstone)...)
	}
	return pairs
}

// tombstoneFields returns t as field/value pairs. The next-key field is
// written even when empty: its presence is what marks a tombstone.
func tombstoneFields(t *session.Tombstone) []any {
	pairs := []any{fieldNext, t.Next}
	if t.Successor != nil {
		pairs = append(pairs, fieldSuccessor, t.Successor)
	}
	if g := micros(t.GraceUntil); g != "" {
		pairs = append(pairs, fieldGrace, g)
	}
	return pairs
}

// tombstoneRecord returns the fields of the record Renew leaves at an old
// key: only the tombstone, with both deadlines at t.Expires.
func tombstoneRecord(t *session.Tombstone) []any {
	e := micros(t.Expires)
	return append(tombstoneFields(t), fieldIdle, e, fieldAbsolute, e)
}

// decodeRecord reads a session hash back, with its version.
func decodeRecord(h map[string]string) (*session.Record, string, error) {
	rec := &session.Record{User: h[fieldUser], UserAgent: h[fieldUserAgent]}
	times := []struct {
		field string
		dst   *time.Time
	}{
		{fieldCreated, &rec.CreatedAt}, {fieldLastSeen, &rec.LastSeen}, {fieldIssued, &rec.IssuedAt},
		{fieldIdle, &rec.IdleDeadline}, {fieldAbsolute, &rec.AbsoluteDeadline},
	}
	for _, tf := range times {
		v, ok := h[tf.field]
		t, err := parseMicros(v, ok)
		if err != nil {
			return nil, "", err
		}
		*tf.dst = t
	}
	switch r := h[fieldRemember]; r {
	case "1":
		rec.Remember = true
	case "", "0":
	default:
		return nil, "", fmt.Errorf("%w: remember %q", errCorrupt, r)
	}
	if ip, ok := h[fieldClientIP]; ok {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, "", fmt.Errorf("%w: client address %q", errCorrupt, ip)
		}
		rec.ClientIP = addr
	}
	if next, ok := h[fieldNext]; ok {
		t, err := decodeTombstone(h, next)
		if err != nil {
			return nil, "", err
		}
		t.Expires = rec.ExpiresAt()
		rec.Tombstone = t
		return rec, h[fieldVersion], nil
	}
	values := make(map[string][]byte, len(h))
	for f, v := range h {
		if name, ok := strings.CutPrefix(f, valuePrefix); ok {
			values[name] = []byte(v)
		}
	}
	rec.Values = session.ValuesOf(values)
	return rec, h[fieldVersion], nil
}

func decodeTombstone(h map[string]string, next string) (*session.Tombstone, error) {
	t := &session.Tombstone{Next: next}
	if s, ok := h[fieldSuccessor]; ok {
		t.Successor = []byte(s)
	}
	g, ok := h[fieldGrace]
	grace, err := parseMicros(g, ok)
	t.GraceUntil = grace
	return t, err
}

// deltaArgs appends d in the encoding applyDelta reads (see scripts.go).
// The user, times and remember flag the delta sets follow the values as
// field/value pairs, so that the script hands them all to one HSET as they
// come. A Remember of false is written as "0", which reads as an absent
// field does.
func deltaArgs(args []any, d *session.Delta) []any {
	clr, userGiven, user := "", "", ""
	if d.Clear {
		clr = "1"
	}
	if d.User != nil {
		userGiven, user = "1", *d.User
	}
	idle, idleMillis := micros(d.IdleDeadline), ""
	if idle != "" {
		idleMillis = expiryMillis(d.IdleDeadline)
	}
	args = append(args, clr, userGiven, user, idle, idleMillis, len(d.Delete))
	for _, name := range d.Delete {
		args = append(args, valuePrefix+name)
	}
	count := len(args)
	args = append(args, 0)
	for name, v := range d.Set {
		args = append(args, valuePrefix+name, v)
	}
	add := func(field, value string) {
		if value != "" {
			args = append(args, field, value)
		}
	}
	add(fieldUser, user)
	add(fieldLastSeen, micros(d.LastSeen))
	add(fieldIdle, idle)
	add(fieldIssued, micros(d.IssuedAt))
	if d.Remember != nil {
		add(fieldRemember, remember(*d.Remember))
	}
	args[count] = len(args) - count - 1
	return args
}

// indexScore is a record's score in its user's index: its absolute deadline
// in milliseconds, rounded up. The absolute deadline never moves, so touches
// need not rewrite the index, and no record outlives its score.
func indexScore(rec *session.Record) int64 {
	return ceilMillis(rec.AbsoluteDeadline.UnixMicro())
}

// ceilMillis turns Unix microseconds into Unix milliseconds, rounded up, as
// the scripts' ms() does: Redis never drops a record before its deadline.
func ceilMillis(us int64) int64 { return (us + 999) / 1000 }

// deltaLen bounds how many arguments deltaArgs appends for d.
func deltaLen(d *session.Delta) int { return 17 + len(d.Delete) + 2*len(d.Set) }

// remember encodes a remember flag in a delta: "1" or "0".
func remember(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// expiryMillis is what the scripts' ms() makes of t: its Unix milliseconds,
// rounded up. An update gets it from the client because string.format costs
// a script about as much as a Redis command. Before 1970 (where ms() may
// write "-0") and from 2^53 microseconds on (the year 2255, where Lua's
// doubles round the microseconds) it is "", and the script computes it.
func expiryMillis(t time.Time) string {
	us := t.UnixMicro()
	if us < 0 || us >= 1<<53 {
		return ""
	}
	return strconv.FormatInt(ceilMillis(us), 10)
}
