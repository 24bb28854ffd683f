package pgstore

import (
	"fmt"
	"maps"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sessionid/session"
)

// recordRow receives the recordColumns of one row. A zero time, an empty
// user and a zero client address are stored as NULL.
type recordRow struct {
	user                          pgtype.Text
	createdAt, lastSeen, issuedAt pgtype.Timestamptz
	idleDeadline, absDeadline     time.Time
	clientIP                      pgtype.Text
	userAgent                     []byte
	remember, tombstone           bool
	successor, next               []byte
	graceUntil                    pgtype.Timestamptz
	names, vals                   [][]byte
}

// targets returns the scan destinations, in the order of recordColumns.
func (r *recordRow) targets() []any {
	return []any{&r.user, &r.createdAt, &r.lastSeen, &r.issuedAt, &r.idleDeadline, &r.absDeadline,
		&r.clientIP, &r.userAgent, &r.remember, &r.tombstone, &r.successor, &r.next, &r.graceUntil, &r.names, &r.vals}
}

// record builds the Record the row holds. A tombstone has no values.
func (r *recordRow) record() (*session.Record, error) {
	rec := &session.Record{
		User:             r.user.String,
		CreatedAt:        r.createdAt.Time,
		LastSeen:         r.lastSeen.Time,
		IssuedAt:         r.issuedAt.Time,
		IdleDeadline:     r.idleDeadline,
		AbsoluteDeadline: r.absDeadline,
		UserAgent:        string(r.userAgent),
		Remember:         r.remember,
	}
	if r.clientIP.Valid {
		addr, err := netip.ParseAddr(r.clientIP.String)
		if err != nil {
			return nil, fmt.Errorf("pgstore: stored client address: %w", err)
		}
		rec.ClientIP = addr
	}
	if r.tombstone {
		rec.Tombstone = &session.Tombstone{Successor: r.successor, Next: string(r.next), GraceUntil: r.graceUntil.Time,
			Expires: rec.ExpiresAt()}
		return rec, nil
	}
	if len(r.names) != len(r.vals) {
		return nil, fmt.Errorf("pgstore: %d value names for %d values", len(r.names), len(r.vals))
	}
	values := make(map[string][]byte, len(r.names))
	for i, name := range r.names {
		values[string(name)] = r.vals[i]
	}
	rec.Values = session.ValuesOf(values)
	return rec, nil
}

// createArgs are the parameters of the create query.
func createArgs(key string, rec *session.Record) []any {
	names, vals := valueArrays(maps.Collect(rec.Values.All()))
	var successor, next []byte
	var grace time.Time
	if t := rec.Tombstone; t != nil {
		successor, next, grace = t.Successor, bytesOf(t.Next), t.GraceUntil
	}
	return []any{[]byte(key), nullText(rec.User),
		nullTime(rec.CreatedAt), nullTime(rec.LastSeen), nullTime(rec.IssuedAt), rec.IdleDeadline, rec.AbsoluteDeadline,
		addrText(rec.ClientIP), []byte(rec.UserAgent), rec.Remember, rec.Tombstone != nil, successor, next, nullTime(grace),
		names, vals}
}

// deltaArgs are the parameters $1 to $7 of the update queries (see
// deltaFields).
func deltaArgs(key string, d *session.Delta) []any {
	var user pgtype.Text
	if d.User != nil {
		user = nullText(*d.User)
	}
	var remember pgtype.Bool
	if d.Remember != nil {
		remember = pgtype.Bool{Bool: *d.Remember, Valid: true}
	}
	return []any{[]byte(key), d.User != nil, user, nullTime(d.LastSeen), nullTime(d.IdleDeadline), nullTime(d.IssuedAt),
		remember}
}

// valueArgs are the parameters $8 to $11 of the update queries (see
// deltaValues).
func valueArgs(d *session.Delta) []any {
	deleted := make([][]byte, len(d.Delete))
	for i, name := range d.Delete {
		deleted[i] = bytesOf(name)
	}
	names, vals := valueArrays(d.Set)
	return []any{d.Clear, deleted, names, vals}
}

// changesValues reports whether d touches any value.
func changesValues(d *session.Delta) bool {
	return d.Clear || len(d.Delete) > 0 || len(d.Set) > 0
}

// valueArrays returns the names and values of m as two arrays in the same
// order. Neither array nor any element is nil, which pgx would send as NULL:
// ANY and ALL over a NULL array are never true, and values are NOT NULL.
func valueArrays(m map[string][]byte) (names, vals [][]byte) {
	names, vals = make([][]byte, 0, len(m)), make([][]byte, 0, len(m))
	for name, v := range m {
		if v == nil {
			v = []byte{}
		}
		names, vals = append(names, bytesOf(name)), append(vals, v)
	}
	return names, vals
}

// bytesOf returns s as a non-nil byte slice, even when s is empty.
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func nullText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// addrText stores an address as text, which keeps a zone and the IPv4-in-
// IPv6 form that inet would lose.
func addrText(a netip.Addr) pgtype.Text {
	if !a.IsValid() {
		return pgtype.Text{}
	}
	return pgtype.Text{String: a.String(), Valid: true}
}
