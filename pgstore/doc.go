// Package pgstore is a session.Store that keeps sessions in PostgreSQL,
// through a pgx connection pool, with the user index (session.UserIndex)
// that session lists, "log out everywhere" and per-user limits need.
//
// # Setup
//
// Create the pool, the store and its tables once, at start, and hand the
// store to the manager:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer pool.Close()
//	store, err := pgstore.New(pool, pgstore.WithTable("myapp.sessions"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close() // stops the background cleanup, not the pool
//	// Migrate creates the schema and tables if missing (or run the SQL in pgstore/doc.go).
//	if err := store.Migrate(ctx); err != nil {
//		log.Fatal(err)
//	}
//	m, err := session.New(session.WithStore(store))
//
// Migrate creates what is missing, the schema included, and leaves the rest
// alone, so it can run at every start of every instance. Applications with
// their own migration tool can run the SQL below instead, with the table
// names they chose.
//
// # Schema
//
// For the default table name, Migrate runs:
//
//	CREATE TABLE IF NOT EXISTS "sessions" (
//		id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//		key               bytea NOT NULL UNIQUE,
//		user_name         text,
//		created_at        timestamptz,
//		last_seen         timestamptz,
//		issued_at         timestamptz,
//		idle_deadline     timestamptz NOT NULL,
//		absolute_deadline timestamptz NOT NULL,
//		expires_at        timestamptz GENERATED ALWAYS AS (LEAST(idle_deadline, absolute_deadline)) STORED,
//		client_ip         text,
//		user_agent        bytea,
//		remember          boolean NOT NULL DEFAULT false,
//		tombstone         boolean NOT NULL DEFAULT false,
//		successor         bytea,
//		next_key          bytea,
//		grace_until       timestamptz
//	);
//	CREATE TABLE IF NOT EXISTS "sessions_values" (
//		session_id bigint NOT NULL REFERENCES "sessions" (id) ON DELETE CASCADE,
//		name       bytea NOT NULL,
//		value      bytea NOT NULL,
//		PRIMARY KEY (session_id, name)
//	);
//	CREATE INDEX IF NOT EXISTS "sessions_user_idx" ON "sessions" (user_name) WHERE user_name IS NOT NULL;
//	CREATE INDEX IF NOT EXISTS "sessions_expires_idx" ON "sessions" (expires_at);
//
// For a table in a schema, such as "myapp.sessions", the tables' names are
// qualified (the indexes' are not: an index lives in its table's schema),
// and where pg_namespace has no such schema, Migrate first runs:
//
//	CREATE SCHEMA IF NOT EXISTS "myapp";
//
// It runs it only then, since CREATE SCHEMA needs the CREATE privilege on
// the database even when the schema exists, which an application's role
// seldom has.
//
// A sessions table created by an earlier release lacks the columns added
// since; Migrate adds each one that is missing, and only then, since ALTER
// TABLE locks the whole table:
//
//	ALTER TABLE "sessions" ADD COLUMN IF NOT EXISTS remember boolean NOT NULL DEFAULT false;
//
// Its default makes the sessions already stored not remembered ("remember
// me" off); from PostgreSQL 11 on, adding it rewrites no row.
//
// A session is one row of sessions, under its key (the SHA-256 of its ID,
// never the ID), and each of its values one row of sessions_values. An
// update writes the rows of the values it changes and leaves the others
// alone: changing one value of twenty, of 1 KiB each, writes 2 rows and
// about 1.6 KB of write-ahead log, where a jsonb column holding all the
// values (base64, since jsonb holds no NUL) writes the whole column again: 29
// rows (the session and its TOAST chunks, written and deleted) and 30 KB, at
// two to three times the time; and loading one row per value is also faster
// than decoding the jsonb. BenchmarkLayout measures both layouts:
//
//	SESSION_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test go test -run '^$' -bench Layout -benchtime 2000x
//
// A renewal changes the key of the session's row: the id, and so the values,
// stay. It leaves a tombstone row at the old key (no user, no values). Value
// names and values are bytea, since they are arbitrary bytes; so is the user
// agent, which a client may fill with invalid UTF-8. The user is text: it
// must be valid UTF-8 without NUL, or the write that sets it fails.
//
// # Expiry
//
// Every query decides expiry with the database's clock, now(): one clock for
// all the instances of an application, so that none replaces or cleans up a
// record that another still takes for live, and one instant for all the
// statements of a transaction. The manager enforces its timeouts with its
// own clock on top, so a manager with a clock of its own (session.WithClock)
// still sees its sessions expire; the rows, though, stay until the
// database's clock passes their deadlines.
//
// A background cleanup deletes expired rows every WithCleanupInterval, in
// batches of WithCleanupBatch rows, each batch its own short transaction
// that skips rows in use. Close stops it; Cleanup runs one by hand.
//
// # Cost of each call
//
// Each call is one round trip: a single statement, or a pgx batch whose
// statements run in one transaction. Rows written:
//
//	Load, UserSessions    none
//	Create                the session row and a row per value
//	Update                the session row, and a row per value set or deleted
//	Update (a touch)      the session row: no value is rewritten
//	Renew                 the session row, a tombstone row, and the rows of the values the delta changes
//	Delete, DeleteUser    deletes the sessions' rows (and renewals'), their values with them
//
// Through the manager, a read-only request costs one round trip (a Load)
// and writes nothing, except for a touch once per touch interval, one more
// round trip writing the session row. A request that writes costs two: a
// Load and an Update. Because the expiry column is indexed for the cleanup,
// writing the session row also adds an entry to each of its four indexes.
// pgx adds a round trip the first time a connection runs each statement (it
// prepares it, in its default execution mode), and pgxpool one to ping a
// connection that has been idle for more than a second.
//
// # Concurrency
//
// Statements run in READ COMMITTED, with row locks: no serialization
// failures to retry. Two requests that change different values of one
// session both keep their change; an update never brings back a record that
// was deleted, renewed or expired; and Delete and DeleteUser lock rows by
// their id, which a renewal keeps, so that a renewal that races them is
// followed. Every query works in each of pgx's execution modes, including
// the simple protocol and describe-exec that connection poolers such as
// PgBouncer may need: a batch is always one transaction.
//
// # Security notes
//
//   - The store holds keys, the SHA-256 of session IDs, never the IDs, and a
//     tombstone holds its successor's ID sealed with the old ID: a leaked
//     table does not leak live sessions.
//   - Values are stored as the manager's Codec encoded them, in clear:
//     whoever can read the table can read them. Restrict access to it, and
//     connect with TLS (sslmode=verify-full) to a database across a network.
//   - WithTable accepts only plain identifiers, and quotes them: no text from
//     configuration reaches SQL unchecked. Everything else is a parameter.
package pgstore
