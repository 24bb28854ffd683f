package pgstore

import (
	"strconv"
	"strings"
)

// The SQL of the store, with {sessions} and {values} standing for the quoted
// table names. Every query decides expiry with the database clock, now():
// one clock for every instance of the application, so that no two of them
// disagree on whether a record is live, and the same instant for every
// statement of a transaction. The manager enforces its own timeouts with its
// own clock on top.
//
// Locks: a statement that writes a session's values first holds the lock on
// its session row. Delete and DeleteUser, which lock several session rows,
// lock them in id order; Renew locks its old row, then at most an expired
// row at its new key, a fresh key no other call holds; the cleanup never
// waits. So no two calls wait for each other in a cycle (and should one
// form, PostgreSQL breaks it: the call fails, it does not hang).

// live is the condition for a session row that Update and Renew may change.
const live = `NOT tombstone AND expires_at > now()`

// recordColumns are the columns scanned by recordRow, read from a session
// row s and its aggregated values v (see valuesOf).
const recordColumns = `s.user_name, s.created_at, s.last_seen, s.issued_at, s.idle_deadline, s.absolute_deadline,
	s.client_ip, s.user_agent, s.remember, s.tombstone, s.successor, s.next_key, s.grace_until, v.names, v.vals`

// valuesOf aggregates the values of session row s into two arrays in the
// same order: one row, whatever the number of values, so that a record is
// read with one query.
const valuesOf = `CROSS JOIN LATERAL (
	SELECT array_agg(name) AS names, array_agg(value) AS vals FROM {values} WHERE session_id = s.id
) v`

// Delta parameters, shared by update, updateValues and renew: $1 key,
// $2 whether the user changes, $3 the user (NULL for none), $4 last seen,
// $5 idle deadline, $6 issued at, $7 remember (NULL leaves each as it was);
// for values, $8 clear, $9 names to delete, $10 names to set, $11 their
// values.
const deltaFields = `
	user_name     = CASE WHEN $2::boolean THEN $3::text ELSE user_name END,
	last_seen     = COALESCE($4::timestamptz, last_seen),
	idle_deadline = COALESCE($5::timestamptz, idle_deadline),
	issued_at     = COALESCE($6::timestamptz, issued_at),
	remember      = COALESCE($7::boolean, remember)`

// deltaValues applies the values part of a delta to the session row that
// CTE s returned. The names that are set are kept out of the deletion, which
// both gives Set the last word (as Delta.Apply does) and keeps the two
// statements on different rows: one statement must not change a row twice.
const deltaValues = `deleted AS (
	DELETE FROM {values} v USING s
	WHERE v.session_id = s.id AND ($8::boolean OR v.name = ANY ($9::bytea[])) AND v.name <> ALL ($10::bytea[])
), written AS (
	INSERT INTO {values} (session_id, name, value)
	SELECT s.id, u.name, u.value FROM s, unnest($10::bytea[], $11::bytea[]) AS u (name, value)
	ON CONFLICT (session_id, name) DO UPDATE SET value = excluded.value
)`

// queries is the SQL of one store, for its tables.
type queries struct {
	load, userSessions                  string
	deleteExpiredAt, create             string
	lock, update, updateValues          string
	lockForRenew, renew                 string
	deleteChain, deleteUser, deleteDead string
}

func newQueries(t tables) queries {
	r := strings.NewReplacer("{sessions}", t.sessions, "{values}", t.values)
	return queries{
		load: r.Replace(`SELECT ` + recordColumns + ` FROM {sessions} s ` + valuesOf + `
WHERE s.key = $1::bytea AND s.expires_at > now()`),

		userSessions: r.Replace(`SELECT s.key, ` + recordColumns + ` FROM {sessions} s ` + valuesOf + `
WHERE s.user_name = $1::text AND NOT s.tombstone AND s.expires_at > now()`),

		// Create and Renew may take a key whose record has expired.
		deleteExpiredAt: r.Replace(`DELETE FROM {sessions} WHERE key = $1::bytea AND expires_at <= now()`),

		create: r.Replace(`WITH s AS (
	INSERT INTO {sessions} (key, user_name, created_at, last_seen, issued_at, idle_deadline, absolute_deadline,
		client_ip, user_agent, remember, tombstone, successor, next_key, grace_until)
	VALUES ($1::bytea, $2::text, $3::timestamptz, $4::timestamptz, $5::timestamptz, $6::timestamptz, $7::timestamptz,
		$8::text, $9::bytea, $10::boolean, $11::boolean, $12::bytea, $13::bytea, $14::timestamptz)
	ON CONFLICT (key) DO NOTHING
	RETURNING id
), written AS (
	INSERT INTO {values} (session_id, name, value)
	SELECT s.id, u.name, u.value FROM s, unnest($15::bytea[], $16::bytea[]) AS u (name, value)
)
SELECT count(*) FROM s`),

		// lock runs, in the same transaction, before an update that deletes
		// values: in READ COMMITTED each statement sees what was committed
		// when it started, so the deletion must start after the lock is held
		// or it would miss a value that the previous holder added.
		lock: r.Replace(`SELECT 1 FROM {sessions} WHERE key = $1::bytea FOR NO KEY UPDATE`),

		update: r.Replace(`UPDATE {sessions} SET ` + deltaFields + `
WHERE key = $1::bytea AND ` + live),

		updateValues: r.Replace(`WITH s AS (
	UPDATE {sessions} SET ` + deltaFields + `
	WHERE key = $1::bytea AND ` + live + `
	RETURNING id
), ` + deltaValues + `
SELECT count(*) FROM s`),

		lockForRenew: r.Replace(`SELECT ` + live + ` FROM {sessions} WHERE key = $1::bytea FOR UPDATE`),

		// renew moves the row to the new key ($12) in place, so its id and
		// values stay, and leaves a tombstone at the old key when $13:
		// $14 its deadlines, $15 successor, $16 next key, $17 grace end.
		renew: r.Replace(`WITH s AS (
	UPDATE {sessions} SET key = $12::bytea, ` + deltaFields + `
	WHERE key = $1::bytea AND ` + live + `
		AND NOT EXISTS (SELECT FROM {sessions} WHERE key = $12::bytea)
	RETURNING id
), ` + deltaValues + `, tomb AS (
	INSERT INTO {sessions} (key, idle_deadline, absolute_deadline, tombstone, successor, next_key, grace_until)
	SELECT $1::bytea, $14::timestamptz, $14::timestamptz, true, $15::bytea, $16::bytea, $17::timestamptz
	FROM s WHERE $13::boolean
)
SELECT count(*) FROM s`),

		// deleteChain deletes the row at $1 and the rows its tombstones lead
		// to. Rows are locked, in id order, by id: a renewal that moved one
		// of them to a new key meanwhile kept its id, so it is still found.
		deleteChain: r.Replace(`WITH RECURSIVE chain (id, next_key, hops) AS (
	SELECT id, CASE WHEN tombstone THEN next_key END, 1 FROM {sessions} WHERE key = $1::bytea
	UNION ALL
	SELECT n.id, CASE WHEN n.tombstone THEN n.next_key END, c.hops + 1
	FROM chain c JOIN {sessions} n ON n.key = c.next_key
	WHERE c.hops < ` + strconv.Itoa(maxChain) + `
), locked AS MATERIALIZED (
	SELECT s.id FROM {sessions} s JOIN chain c ON c.id = s.id ORDER BY s.id FOR UPDATE OF s
)
DELETE FROM {sessions} s USING locked l WHERE s.id = l.id`),

		// deleteUser locks and deletes the user's rows by id, so a renewal
		// that raced it is followed as in deleteChain. The lock rechecks the
		// user on the latest row: a session that changed user meanwhile is
		// no longer this user's.
		deleteUser: r.Replace(`WITH locked AS MATERIALIZED (
	SELECT id FROM {sessions} WHERE user_name = $1::text ORDER BY id FOR UPDATE
), gone AS (
	DELETE FROM {sessions} s USING locked l WHERE s.id = l.id
	RETURNING s.expires_at > now() AS live
)
SELECT count(*) FILTER (WHERE live) FROM gone`),

		// deleteDead deletes up to $1 expired rows, skipping rows that a
		// request holds: the cleanup never waits, so it takes no part in a
		// lock cycle whatever order it locks in.
		deleteDead: r.Replace(`WITH doomed AS MATERIALIZED (
	SELECT id FROM {sessions} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1::integer FOR UPDATE SKIP LOCKED
)
DELETE FROM {sessions} s USING doomed d WHERE s.id = d.id`),
	}
}
