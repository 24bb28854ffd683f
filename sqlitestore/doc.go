// Package sqlitestore is a session.Store that keeps sessions in a SQLite
// file, through the pure-Go driver modernc.org/sqlite (no cgo: it builds
// with CGO_ENABLED=0), with the user index (session.UserIndex) that session
// lists, "log out everywhere" and per-user limits need. Sessions survive a
// restart of the process; it suits an application that runs as one process
// on one machine, or a few processes sharing a local file.
//
// # Setup
//
// Open the file once, at start, and hand the store to the manager:
//
//	store, err := sqlitestore.Open(filepath.Join(dir, "sessions.db"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close() // stops the background cleanup and closes the file
//	m, err := session.New(session.WithStore(store))
//
// Open creates the file if it is missing, and the tables and indexes below
// if they are missing (CREATE ... IF NOT EXISTS, in one transaction), so it
// can run at every start. The store owns its connections: Close closes
// them, and the store must not be used after it.
//
// # Schema
//
// For the default table name, Open runs:
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//		id                INTEGER PRIMARY KEY,
//		key               BLOB NOT NULL UNIQUE,
//		user_name         TEXT,
//		created_at        INTEGER,
//		last_seen         INTEGER,
//		issued_at         INTEGER,
//		idle_deadline     INTEGER NOT NULL,
//		absolute_deadline INTEGER NOT NULL,
//		expires_at        INTEGER GENERATED ALWAYS AS (min(idle_deadline, absolute_deadline)) STORED,
//		client_ip         TEXT,
//		user_agent        BLOB,
//		remember          INTEGER NOT NULL DEFAULT 0,
//		tombstone         INTEGER NOT NULL DEFAULT 0,
//		successor         BLOB,
//		next_key          BLOB,
//		grace_until       INTEGER
//	) STRICT;
//	CREATE TABLE IF NOT EXISTS "sessions_values" (
//		session_id INTEGER NOT NULL REFERENCES "sessions" (id) ON DELETE CASCADE,
//		name       BLOB NOT NULL,
//		value      BLOB NOT NULL,
//		PRIMARY KEY (session_id, name)
//	) STRICT, WITHOUT ROWID;
//	CREATE INDEX IF NOT EXISTS "sessions_user_idx" ON "sessions" (user_name) WHERE user_name IS NOT NULL;
//	CREATE INDEX IF NOT EXISTS "sessions_expires_idx" ON "sessions" (expires_at);
//
// WithTable changes "sessions"; the other names follow it. The key is the
// SHA-256 the manager makes of a session ID, never the ID. Times are
// microseconds since the Unix epoch (NULL for none). A session is a row of
// sessions and each value a row of sessions_values, so an update writes only
// the values it changes; a renewal changes the session row's key and leaves
// its value rows, which hang on its id, alone. A tombstone is a session row
// with tombstone = 1, no user and no values.
//
// # Pragmas
//
// The store opens the file with these pragmas, set on every connection:
//
//   - journal_mode=WAL: readers never wait for the writer, nor it for them;
//   - busy_timeout (WithBusyTimeout, default 5 s): how long a connection
//     waits for a lock that another process holds before failing;
//   - synchronous=NORMAL (FULL with WithFullSync(true)): in WAL mode a
//     commit survives a crash of the process; only a power loss or OS crash
//     can lose the last commits, never corrupt the file;
//   - foreign_keys=ON, on the writer: deleting a session row deletes its
//     values;
//   - query_only=ON, on the readers.
//
// Write transactions begin with BEGIN IMMEDIATE (the driver's
// _txlock=immediate), so a transaction takes the write lock before it reads,
// and waits for it under the busy timeout, instead of failing with
// SQLITE_BUSY when a read lock cannot be upgraded.
//
// # Concurrency
//
// SQLite has one writer at a time. The store gives its writes one
// connection (a database/sql pool of one): concurrent requests queue for it
// in Go, honouring their contexts, and never meet on SQLite's lock, so
// SQLITE_BUSY cannot reach them from within the process. Reads (Load,
// UserSessions) run on a separate pool of WithReaders connections (default
// 4) and, in WAL mode, neither wait for the writer nor make it wait. Several
// processes may share the file: their writers meet on the file lock, and
// wait for each other up to the busy timeout. SQLite's wait is not fair
// between processes, so under heavy contention one process's write can
// wait longer than a short timeout and fail with SQLITE_BUSY: raise
// WithBusyTimeout where several busy processes share a file (a test runs two
// stores on one file with 64 goroutines under the race detector, with a
// one-minute timeout, and sees no error).
//
// Since writes are serialised, each operation is a plain transaction of
// short statements: there are no lock orders to keep and no lost updates.
// Expiry is checked in every statement that reads or changes a record,
// against the store's clock (time.Now, in microseconds): an expired record
// is never returned, updated or renewed, and its key can be created again.
//
// # Cost of each call
//
// No network round trips: a statement is a function call into SQLite, and
// the store's statements are prepared once, when it opens, rather than
// compiled on every call. Per call:
//
//   - Load: one SELECT on a reader (the session row joined to its values,
//     one row per value), no write;
//   - Create: one write transaction: a DELETE of an expired record at the
//     key, an INSERT of the session row, one INSERT per value;
//   - Update: one write transaction: an UPDATE ... RETURNING of the session
//     row, then one statement per value deleted or set (one for Clear); a
//     touch is the UPDATE alone;
//   - Renew: one write transaction: a SELECT of the old row, a DELETE of an
//     expired record at the new key, a SELECT that the new key is free, an
//     UPDATE moving the row, one statement per value changed, and an INSERT
//     of the tombstone if there is one;
//   - Delete: one write transaction: a SELECT and a DELETE per record along
//     the chain of renewals (8 records at most);
//   - UserSessions: one SELECT on a reader, through the user index;
//   - DeleteUser: one write transaction: a count and a DELETE.
//
// Measured on 2 CPUs (Intel Xeon), with 16 goroutines each updating one
// value of its own session:
//
//	go test -run '^$' -bench WriteParallel -benchtime 2s ./sqlitestore
//
// about 16,000 writes/s (63 µs each) with synchronous=NORMAL and about
// 4,500 writes/s with WithFullSync(true) (an fsync per commit; the figure
// depends on the disk, and ranged from 2,000 to 7,700 between runs).
//
// # Cleanup
//
// A background goroutine (WithCleanupInterval, default every 5 minutes)
// deletes expired rows in batches of WithCleanupBatch (default 1000), each
// its own short write transaction, so requests' writes take their turn
// between batches. Close stops it; Cleanup runs one by hand.
package sqlitestore
