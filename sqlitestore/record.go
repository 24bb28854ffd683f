package sqlitestore

import (
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/sessionid/session"
)

// recordBuilder gathers the rows of one record, as the load and
// userSessions queries return it: the session's columns repeated on each
// row, with one value per row (none when the session has no values).
type recordBuilder struct {
	found                         bool
	user, clientIP                sql.NullString
	createdAt, lastSeen, issuedAt sql.NullInt64
	idleDeadline, absDeadline     int64
	userAgent                     []byte
	remember, tombstone           bool
	successor, next               []byte
	graceUntil                    sql.NullInt64
	values                        map[string][]byte
}

// targets returns the scan destinations of the recordColumns, the value's
// name and value going to name and value.
func (b *recordBuilder) targets(v *valueRow) []any {
	return []any{&b.user, &b.createdAt, &b.lastSeen, &b.issuedAt, &b.idleDeadline, &b.absDeadline,
		&b.clientIP, &b.userAgent, &b.remember, &b.tombstone, &b.successor, &b.next, &b.graceUntil,
		&v.ok, &v.name, &v.value}
}

// valueRow is the value a row holds, if ok.
type valueRow struct {
	ok          bool
	name, value []byte
}

// scan reads one row of the record.
func (b *recordBuilder) scan(rows *sql.Rows) error {
	var v valueRow
	if err := rows.Scan(b.targets(&v)...); err != nil {
		return err
	}
	b.add(v)
	return nil
}

// add records that a row was found, and its value if it has one (the LEFT
// JOIN's one row of a session without values has none).
func (b *recordBuilder) add(v valueRow) {
	b.found = true
	if !v.ok {
		return
	}
	if b.values == nil {
		b.values = map[string][]byte{}
	}
	if v.value == nil {
		v.value = []byte{}
	}
	b.values[string(v.name)] = v.value
}

// record builds the Record the rows hold. A tombstone has no values.
func (b *recordBuilder) record() (*session.Record, error) {
	rec := &session.Record{
		User:             b.user.String,
		CreatedAt:        timeOf(b.createdAt),
		LastSeen:         timeOf(b.lastSeen),
		IssuedAt:         timeOf(b.issuedAt),
		IdleDeadline:     time.UnixMicro(b.idleDeadline),
		AbsoluteDeadline: time.UnixMicro(b.absDeadline),
		UserAgent:        string(b.userAgent),
		Remember:         b.remember,
	}
	if b.clientIP.Valid {
		addr, err := netip.ParseAddr(b.clientIP.String)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: stored client address: %w", err)
		}
		rec.ClientIP = addr
	}
	if b.tombstone {
		rec.Tombstone = &session.Tombstone{Successor: b.successor, Next: string(b.next), GraceUntil: timeOf(b.graceUntil),
			Expires: rec.ExpiresAt()}
		return rec, nil
	}
	rec.Values = session.ValuesOf(b.values)
	return rec, nil
}

// createArgs are the parameters of the create query.
func createArgs(key string, rec *session.Record) []any {
	var successor, next []byte
	var grace time.Time
	if t := rec.Tombstone; t != nil {
		successor, next, grace = t.Successor, []byte(t.Next), t.GraceUntil
	}
	return []any{[]byte(key), nullText(rec.User),
		micros(rec.CreatedAt), micros(rec.LastSeen), micros(rec.IssuedAt),
		rec.IdleDeadline.UnixMicro(), rec.AbsoluteDeadline.UnixMicro(),
		addrText(rec.ClientIP), blob([]byte(rec.UserAgent)), rec.Remember, rec.Tombstone != nil, successor, next, micros(grace)}
}

// deltaArgs are the parameters ?1 to ?8 of the update and renew queries
// (see deltaFields): first is the key or the id, now the store's clock.
func deltaArgs(first any, now int64, d *session.Delta) []any {
	var user sql.NullString
	if d.User != nil {
		user = nullText(*d.User)
	}
	var remember sql.NullBool
	if d.Remember != nil {
		remember = sql.NullBool{Bool: *d.Remember, Valid: true}
	}
	return []any{first, now, d.User != nil, user, micros(d.LastSeen), micros(d.IdleDeadline), micros(d.IssuedAt), remember}
}

// blob returns b, or an empty slice for nil, which the driver would store
// as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// micros stores a time as microseconds since the Unix epoch, NULL for the
// zero time.
func micros(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: !t.IsZero()}
}

func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64)
}

func nullText(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// addrText stores an address as text, which keeps a zone and the IPv4-in-
// IPv6 form.
func addrText(a netip.Addr) sql.NullString {
	if !a.IsValid() {
		return sql.NullString{}
	}
	return sql.NullString{String: a.String(), Valid: true}
}
