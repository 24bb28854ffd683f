package mysqlstore

import (
	"database/sql/driver"
	"strconv"
	"strings"
	"time"

	"github.com/sessionid/session"
)

// The SQL of the store. It is the subset that both MySQL 8 and MariaDB 10.11
// accept: no CTE around a write, no RETURNING, no VALUES() in ON DUPLICATE
// KEY UPDATE, no system variable whose name differs between the two (such as
// transaction_isolation). Expiry is decided with the server's clock,
// UTC_TIMESTAMP(6): one clock for every instance of the application, so
// that no two of them disagree on whether a record is live. The manager
// enforces its own timeouts with its own clock on top.
//
// A call that writes is a batch: statements sent together, in one round
// trip, with their parameters inline (the driver escapes them); Load is one
// prepared statement. A batch that writes more than one statement runs them
// in one READ COMMITTED transaction, which takes no gap locks: two calls on
// different sessions never wait for each other.
//
// Locks: a batch that writes a session's values first updates its session
// row, which it then holds to the commit. Delete and DeleteUser delete by
// primary key or by user, in index order; Renew locks at most an expired
// row at its new key, a fresh key no other call holds, then its old row; the
// cleanup skips rows in use. Should a cycle form anyway, InnoDB breaks it:
// the call fails, it does not hang.

// live is the condition for a session row that Update and Renew may change.
const live = `NOT tombstone AND expires_at > UTC_TIMESTAMP(6)`

// byKey is the index hint of an UPDATE that finds a session row by its key
// and the live condition: on a table of a few rows, MariaDB would otherwise
// scan the range of expires_idx that the condition gives, which doubles the
// cost of a write on a table of one row.
const byKey = ` FORCE INDEX (session_key_idx)`

// recordColumns are the columns scanned by recordRow, read from a session
// row s and one of its values v, if any.
const recordColumns = `s.id, s.session_key, s.user_name, s.created_at, s.last_seen, s.issued_at, s.idle_deadline,
	s.absolute_deadline, s.client_ip, s.user_agent, s.remember, s.tombstone, s.successor, s.next_key, s.grace_until,
	v.session_id IS NOT NULL, v.name, v.value`

// queries is the SQL of one store, for its tables.
type queries struct {
	t                  tables
	load, userSessions string
	selectDead         string
}

func newQueries(t tables) queries {
	r := strings.NewReplacer("{sessions}", t.sessions, "{values}", t.values)
	from := ` FROM {sessions} s LEFT JOIN {values} v ON v.session_id = s.id `
	return queries{
		t: t,
		load: r.Replace(`SELECT ` + recordColumns + from + `
WHERE s.session_key = ? AND s.expires_at > UTC_TIMESTAMP(6)`),
		userSessions: r.Replace(`SELECT ` + recordColumns + from + `
WHERE s.user_name = ? AND NOT s.tombstone AND s.expires_at > UTC_TIMESTAMP(6) ORDER BY s.id`),
		// selectDead locks up to ? expired rows, skipping rows a request
		// holds: the cleanup never waits.
		selectDead: r.Replace(`SELECT id FROM {sessions} WHERE expires_at <= UTC_TIMESTAMP(6)
ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED`),
	}
}

// batch is statements sent in one round trip, with their parameters.
type batch struct {
	sql    strings.Builder
	args   []driver.NamedValue
	count  int  // statements
	result int  // index of the statement whose affected rows the call reports
	tx     bool // the batch begins a transaction
}

// add appends a statement and its parameters.
func (b *batch) add(stmt string, args ...any) {
	if b.count > 0 {
		b.sql.WriteString(";\n")
	}
	b.sql.WriteString(stmt)
	b.count++
	for _, a := range args {
		b.args = append(b.args, driver.NamedValue{Ordinal: len(b.args) + 1, Value: a})
	}
}

// begin starts the batch's transaction; commit ends it.
func (b *batch) begin() {
	b.add("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
	b.add("START TRANSACTION")
	b.tx = true
}

func (b *batch) commit() { b.add("COMMIT") }

// mark makes the last statement the one whose affected rows count.
func (b *batch) mark() { b.result = b.count - 1 }

// create is the Create batch: the expired record at key, if any, goes; the
// session row is inserted, failing on a duplicate key; then its values.
func (q *queries) create(key string, rec *session.Record) *batch {
	b := &batch{}
	b.begin()
	b.add(`DELETE FROM `+q.t.sessions+` WHERE session_key = ? AND expires_at <= UTC_TIMESTAMP(6)`, bytesOf(key))
	var successor, next []byte
	var grace time.Time
	if t := rec.Tombstone; t != nil {
		successor, next, grace = t.Successor, []byte(t.Next), t.GraceUntil
	}
	b.add(`INSERT INTO `+q.t.sessions+` (session_key, user_name, created_at, last_seen, issued_at, idle_deadline,
	absolute_deadline, client_ip, user_agent, remember, tombstone, successor, next_key, grace_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		bytesOf(key), nullText(rec.User), nullTime(rec.CreatedAt), nullTime(rec.LastSeen), nullTime(rec.IssuedAt),
		dbTime(rec.IdleDeadline), dbTime(rec.AbsoluteDeadline), addrText(rec.ClientIP), []byte(rec.UserAgent),
		rec.Remember, rec.Tombstone != nil, successor, next, nullTime(grace))
	b.mark()
	if rec.Values.Len() > 0 {
		q.insertValues(b, rec.Values)
	}
	b.commit()
	return b
}

// update is the Update batch: a single UPDATE for a touch, else the session
// row's update, which locks it, then the values' changes.
func (q *queries) update(key string, d *session.Delta) *batch {
	b := &batch{}
	if !changesValues(d) {
		sets, args := deltaSets(d)
		if len(sets) == 0 {
			sets = []string{"id = id"} // an empty delta: only whether the record is live
		}
		b.add(`UPDATE `+q.t.sessions+byKey+` SET `+strings.Join(sets, ", ")+` WHERE session_key = ? AND `+live,
			append(args, bytesOf(key))...)
		return b
	}
	b.begin()
	q.moveRow(b, key, "", d)
	q.changeValues(b, d)
	b.commit()
	return b
}

// moveRow adds the update of the live session row at key, moving it to
// newKey unless that is "", and sets @sid to its id, NULL if there is none.
// The update marks the statement whose affected rows count.
func (q *queries) moveRow(b *batch, key, newKey string, d *session.Delta) {
	sets, args := deltaSets(d)
	if newKey != "" {
		sets = append([]string{"session_key = ?"}, sets...)
		args = append([]any{bytesOf(newKey)}, args...)
	}
	// LAST_INSERT_ID(id) remembers the id of the row updated, if any: the
	// statements after it find the row by id, even when the delta moved its
	// deadline into the past.
	sets = append(sets, "id = LAST_INSERT_ID(id)")
	b.add(`SET @sid = LAST_INSERT_ID(0)`)
	b.add(`UPDATE `+q.t.sessions+byKey+` SET `+strings.Join(sets, ", ")+` WHERE session_key = ? AND `+live,
		append(args, bytesOf(key))...)
	b.mark()
	b.add(`SET @sid = NULLIF(LAST_INSERT_ID(), 0)`)
}

// changeValues adds the statements that apply d's Clear, Delete and Set to
// the values of session @sid.
func (q *queries) changeValues(b *batch, d *session.Delta) {
	if d.Clear || len(d.Delete) > 0 {
		stmt := `DELETE FROM ` + q.t.values + ` WHERE session_id = @sid`
		var args []any
		if !d.Clear {
			stmt += ` AND name IN (` + placeholders(len(d.Delete)) + `)`
			for _, name := range d.Delete {
				args = append(args, bytesOf(name))
			}
		}
		b.add(stmt, args...)
	}
	if len(d.Set) > 0 {
		q.writeValues(b, d.Set)
	}
}

// insertValues adds the statement that inserts values for the session row
// that the batch has just inserted, whose id is LAST_INSERT_ID().
func (q *queries) insertValues(b *batch, values session.Values) {
	var rows []string
	var args []any
	for name, value := range values.All() {
		rows = append(rows, `(LAST_INSERT_ID(), ?, ?)`)
		args = append(args, bytesOf(name), valueOf(value))
	}
	b.add(`INSERT INTO `+q.t.values+` (session_id, name, value) VALUES `+strings.Join(rows, ", "), args...)
}

// writeValues adds, for each value, the statement that inserts or replaces
// it for session @sid, if it is not NULL. One statement per value: a
// derived table of all of them would cost the server a temporary table.
// REPLACE sends the value once; with no other unique key than the primary
// key and no table referencing this one, the server replaces a row in
// place.
func (q *queries) writeValues(b *batch, values map[string][]byte) {
	for name, value := range values {
		b.add(`REPLACE INTO `+q.t.values+` (session_id, name, value) SELECT @sid, ?, ? FROM DUAL WHERE @sid IS NOT NULL`,
			bytesOf(name), valueOf(value))
	}
}

// deleteChain is the Delete batch: twice, it follows the chain of
// tombstones from key, remembering each row's id, and deletes the rows by
// id. A renewal that moved a row while the first deletion waited for its
// lock kept its id, so the row is still found; the second pass, whose reads
// start after the first deletion has finished, sees the tombstone that
// renewal left at key.
//
// Each statement is its own READ COMMITTED transaction: MariaDB reads the
// rows of a SET's subquery with shared locks, which a transaction would
// hold until its deletion asks to upgrade them, a deadlock with a renewal
// waiting for the same row. Each hop is its own SET, as a SET does not see
// the variables that an earlier assignment of the same SET gave.
func (q *queries) deleteChain(key string) *batch {
	b := &batch{}
	b.add(`SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED`)
	ids := make([]string, maxChain)
	for i := range ids {
		ids[i] = "@i" + strconv.Itoa(i)
	}
	for range 2 {
		b.add(`SET @k0 = ?`, bytesOf(key))
		for i := range maxChain {
			row := ` FROM ` + q.t.sessions + ` WHERE session_key = @k` + strconv.Itoa(i)
			b.add(`SET ` + ids[i] + ` = (SELECT id` + row + `), @k` + strconv.Itoa(i+1) +
				` = (SELECT IF(tombstone, next_key, NULL)` + row + `)`)
		}
		b.add(`DELETE FROM ` + q.t.sessions + ` WHERE id IN (` + strings.Join(ids, ", ") + `)`)
	}
	return b
}

// deleteUser is the DeleteUser batch: the first deletion counts the live
// sessions (tombstones have no user), the second takes the rest. Rows are
// found by user, which a renewal keeps.
func (q *queries) deleteUser(user string) *batch {
	b := &batch{}
	b.begin()
	b.add(`DELETE FROM `+q.t.sessions+` WHERE user_name = ? AND `+live, bytesOf(user))
	b.mark()
	b.add(`DELETE FROM `+q.t.sessions+` WHERE user_name = ?`, bytesOf(user))
	b.commit()
	return b
}

// deltaSets returns the assignments of the session row's fields that d
// changes, and their parameters.
func deltaSets(d *session.Delta) ([]string, []any) {
	var sets []string
	var args []any
	set := func(column string, value any) {
		sets = append(sets, column+" = ?")
		args = append(args, value)
	}
	if d.User != nil {
		set("user_name", nullText(*d.User))
	}
	if !d.LastSeen.IsZero() {
		set("last_seen", dbTime(d.LastSeen))
	}
	if !d.IdleDeadline.IsZero() {
		set("idle_deadline", dbTime(d.IdleDeadline))
	}
	if !d.IssuedAt.IsZero() {
		set("issued_at", dbTime(d.IssuedAt))
	}
	if d.Remember != nil {
		set("remember", *d.Remember)
	}
	return sets, args
}

// changesValues reports whether d touches any value.
func changesValues(d *session.Delta) bool {
	return d.Clear || len(d.Delete) > 0 || len(d.Set) > 0
}

// placeholders returns n comma-separated placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
