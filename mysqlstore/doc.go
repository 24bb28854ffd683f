// Package mysqlstore is a session.Store that keeps sessions in MySQL (8.0
// and later) or MariaDB (10.11 and later), through go-sql-driver/mysql, with
// the user index (session.UserIndex) that session lists, "log out
// everywhere" and per-user limits need.
//
// # Setup
//
// Create the store and its tables once, at start, and hand the store to the
// manager:
//
//	dsn, err := mysql.ParseDSN(os.Getenv("MYSQL_DSN"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	store, err := mysqlstore.New(dsn, mysqlstore.WithTable("myapp_sessions"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close() // stops the background cleanup and closes the store's pool
//	// Migrate creates the tables if missing (or run the SQL in mysqlstore/doc.go).
//	if err := store.Migrate(ctx); err != nil {
//		log.Fatal(err)
//	}
//	m, err := session.New(session.WithStore(store))
//
// The store opens its own pool on a copy of the configuration, with the
// settings its SQL needs (see New): several statements per call, sent with
// their parameters inline, so that each call is one round trip. No other
// pool of the application gets these settings. Load's query is a prepared
// statement, which each connection of the pool prepares at its first Load.
//
// # MySQL and MariaDB
//
// The store uses only SQL that both MySQL 8 and MariaDB 10.11 accept, and
// its tests run against MariaDB 10.11 in CI: no common table expression
// around a write, no RETURNING, no VALUES() in ON DUPLICATE KEY UPDATE, no
// system variable whose name differs between the two; SKIP LOCKED (MySQL
// 8.0, MariaDB 10.6) is the newest feature it needs. Tables are InnoDB.
// With binary logging, use a row or mixed format (the default of both):
// statement-based logging refuses writes in READ COMMITTED.
//
// # Schema
//
// For the default table name, Migrate runs:
//
//	CREATE TABLE IF NOT EXISTS `sessions` (
//		id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
//		session_key       VARBINARY(255) NOT NULL,
//		user_name         VARBINARY(1024),
//		created_at        DATETIME(6),
//		last_seen         DATETIME(6),
//		issued_at         DATETIME(6),
//		idle_deadline     DATETIME(6) NOT NULL,
//		absolute_deadline DATETIME(6) NOT NULL,
//		expires_at        DATETIME(6) AS (LEAST(idle_deadline, absolute_deadline)) STORED,
//		client_ip         VARBINARY(64),
//		user_agent        BLOB,
//		remember          BOOLEAN NOT NULL DEFAULT FALSE,
//		tombstone         BOOLEAN NOT NULL DEFAULT FALSE,
//		successor         BLOB,
//		next_key          VARBINARY(255),
//		grace_until       DATETIME(6),
//		UNIQUE KEY session_key_idx (session_key),
//		KEY user_idx (user_name),
//		KEY expires_idx (expires_at)
//	) ENGINE=InnoDB;
//	CREATE TABLE IF NOT EXISTS `sessions_values` (
//		session_id BIGINT UNSIGNED NOT NULL,
//		name       VARBINARY(1024) NOT NULL,
//		value      LONGBLOB NOT NULL,
//		PRIMARY KEY (session_id, name),
//		FOREIGN KEY (session_id) REFERENCES `sessions` (id) ON DELETE CASCADE
//	) ENGINE=InnoDB;
//
// For a table in another database, such as "myapp.sessions", the names are
// qualified, and where that database is missing, Migrate first runs
// CREATE DATABASE IF NOT EXISTS `myapp` (only then: it needs a privilege on
// the server that an application's account seldom has).
//
// A session is one row of sessions, under its key (the SHA-256 of its ID,
// never the ID), and each of its values one row of sessions_values. An
// update writes the rows of the values it changes and leaves the others
// alone. A renewal changes the key of the session's row: the id, and so the
// values, stay. It leaves a tombstone row at the old key (no user, no
// values). Keys, users, value names and values are binary strings: they are
// compared byte for byte, whatever the server's collation. A user or a
// value name is at most 1024 bytes, and a value at most what the server's
// max_allowed_packet lets through (64 MiB on MySQL 8, 16 MiB on MariaDB);
// the store's strict sql_mode makes a longer one fail, never cut.
//
// # Expiry
//
// Every query decides expiry with the server's clock, UTC_TIMESTAMP(6): one
// clock for all the instances of an application. The manager enforces its
// timeouts with its own clock on top. A background cleanup deletes expired
// rows every WithCleanupInterval, in batches of WithCleanupBatch rows, each
// batch its own short transaction that skips rows in use (FOR UPDATE SKIP
// LOCKED). Close stops it; Cleanup runs one by hand.
//
// # Cost of each call
//
// Each call is one round trip: one query, or several statements sent
// together (a multi-statement COM_QUERY) that run in one transaction when
// they write more than one row. A Create or Renew refused because its new
// key is taken costs one more, to roll the transaction back, and so does
// each retry after a deadlock. Load's query is a prepared statement: the
// first Load on a connection prepares it, one round trip more, once per
// connection (and a statement handle on the server per connection, which
// the server's max_prepared_stmt_count bounds across all its clients).
// TestCostPerOperation counts them on the wire. Rows written:
//
//	Load, UserSessions    none (one query: a row per value)
//	Create                the session row and a row per value
//	Update                the session row, and a row per value set or deleted
//	Update (a touch)      the session row, in a single UPDATE: no value is rewritten
//	Renew                 the session row, a tombstone row, and the rows of the values the delta changes
//	Delete, DeleteUser    deletes the sessions' rows (and renewals'), their values with them
//
// Through the manager, a read-only request costs one round trip (a Load)
// and writes nothing, except for a touch once per touch interval, one more
// round trip writing the session row. A request that writes costs two: a
// Load and an Update. Opening a connection costs its handshake and one SET
// of sql_mode, and its first Load the prepare, once per connection. A
// cleanup batch, in the background, costs five round trips.
//
// # Concurrency
//
// Writes run in READ COMMITTED, which takes no gap locks, with row locks:
// two requests that change different values of one session both keep their
// change; an update never brings back a record that was deleted, renewed
// or expired; and Delete deletes by id, which a renewal keeps, so that a
// renewal that races it is followed. A deletion and an update of one
// session lock its two index entries in opposite orders; when InnoDB breaks
// such a lock cycle by rolling one transaction back, the store sends that
// call again (up to five times): its transaction took no effect.
//
// # Security notes
//
//   - The store holds keys, the SHA-256 of session IDs, never the IDs, and a
//     tombstone holds its successor's ID sealed with the old ID: a leaked
//     table does not leak live sessions.
//   - Values are stored as the manager's Codec encoded them, in clear:
//     whoever can read the table can read them. Restrict access to it, and
//     connect with TLS (tls=true, or a registered TLS config) to a server
//     across a network.
//   - WithTable accepts only plain identifiers, and quotes them: no text from
//     configuration reaches SQL unchecked. Every other value is a parameter:
//     bound to Load's prepared statement, or escaped by the driver
//     (InterpolateParams) under the store's sql_mode, which leaves out
//     NO_BACKSLASH_ESCAPES and ANSI_QUOTES.
package mysqlstore
