package mysqlstore

import (
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/sessionid/session"
)

// recordRow receives the recordColumns of one row: a session's columns and
// one of its values. A zero time, an empty user and a zero client address
// are stored as NULL.
type recordRow struct {
	id                            int64
	key                           []byte
	user                          []byte
	createdAt, lastSeen, issuedAt sql.NullTime
	idleDeadline, absDeadline     time.Time
	clientIP                      []byte
	userAgent                     []byte
	remember, tombstone           bool
	successor, next               []byte
	graceUntil                    sql.NullTime
	hasValue                      bool
	name, value                   []byte
}

// targets returns the scan destinations, in the order of recordColumns.
func (r *recordRow) targets() []any {
	return []any{&r.id, &r.key, &r.user, &r.createdAt, &r.lastSeen, &r.issuedAt, &r.idleDeadline, &r.absDeadline,
		&r.clientIP, &r.userAgent, &r.remember, &r.tombstone, &r.successor, &r.next, &r.graceUntil,
		&r.hasValue, &r.name, &r.value}
}

// recordBuilder gathers the rows of one session into its record.
type recordBuilder struct {
	id     int64
	key    string
	rec    *session.Record
	values map[string][]byte
}

// start begins the record of row r, the first of its session's rows.
func (b *recordBuilder) start(r *recordRow) error {
	rec, err := r.record()
	if err != nil {
		return err
	}
	*b = recordBuilder{id: r.id, key: string(r.key), rec: rec, values: map[string][]byte{}}
	return nil
}

// add adds the value of row r, if it holds one. A tombstone has none.
func (b *recordBuilder) add(r *recordRow) {
	if r.hasValue && b.rec.Tombstone == nil {
		b.values[string(r.name)] = r.value
	}
}

// keyed returns the record built.
func (b *recordBuilder) keyed() session.KeyedRecord {
	b.rec.Values = session.ValuesOf(b.values)
	return session.KeyedRecord{Key: b.key, Record: b.rec}
}

// record builds the Record the session columns of r hold, without values.
func (r *recordRow) record() (*session.Record, error) {
	rec := &session.Record{
		User:             string(r.user),
		CreatedAt:        r.createdAt.Time,
		LastSeen:         r.lastSeen.Time,
		IssuedAt:         r.issuedAt.Time,
		IdleDeadline:     r.idleDeadline,
		AbsoluteDeadline: r.absDeadline,
		UserAgent:        string(r.userAgent),
		Remember:         r.remember,
	}
	if r.clientIP != nil {
		addr, err := netip.ParseAddr(string(r.clientIP))
		if err != nil {
			return nil, fmt.Errorf("mysqlstore: stored client address: %w", err)
		}
		rec.ClientIP = addr
	}
	if r.tombstone {
		rec.Tombstone = &session.Tombstone{Successor: r.successor, Next: string(r.next), GraceUntil: r.graceUntil.Time,
			Expires: rec.ExpiresAt()}
	}
	return rec, nil
}

// scanRecords reads the rows of a query of recordColumns, ordered by
// session, into records, and closes rows.
func scanRecords(rows *sql.Rows) ([]session.KeyedRecord, error) {
	defer rows.Close()
	var out []session.KeyedRecord
	var b recordBuilder
	for rows.Next() {
		var r recordRow
		if err := rows.Scan(r.targets()...); err != nil {
			return nil, err
		}
		if b.rec == nil || r.id != b.id {
			if b.rec != nil {
				out = append(out, b.keyed())
			}
			if err := b.start(&r); err != nil {
				return nil, err
			}
		}
		b.add(&r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if b.rec != nil {
		out = append(out, b.keyed())
	}
	return out, nil
}

// dbTime is t as the store keeps it: in UTC, to the microsecond.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime is t as the store keeps it, or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(t)
}

// nullText is s as bytes, or NULL for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// bytesOf returns s as a non-nil byte slice, even when s is empty: the
// driver sends nil as NULL.
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// valueOf returns v, or an empty slice for nil: the driver sends nil as
// NULL.
func valueOf(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// addrText stores an address as text, which keeps a zone and the IPv4-in-
// IPv6 form.
func addrText(a netip.Addr) any {
	if !a.IsValid() {
		return nil
	}
	return []byte(a.String())
}
