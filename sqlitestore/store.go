package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/cleanup"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// maxChain bounds how many records Delete removes along a chain of
// renewals, as the memory store does.
const maxChain = 8

// Store is a session.Store and session.UserIndex that keeps sessions in a
// SQLite file: a row per session, a row per value (see the package
// documentation for the schema, the pragmas and the concurrency model).
//
// Create one with Open; the zero value is not usable. A Store is safe for
// concurrent use. Close stops its background cleanup and closes the file.
type Store struct {
	writer *sql.DB // one connection: every write takes its turn here
	reader *sql.DB // WithReaders connections, read-only
	table  string
	q      *queries // prepared when the store opens
	cfg    config
	log    *slog.Logger
	now    func() time.Time

	cleanup   *cleanup.Loop
	done      <-chan struct{} // closed when the cleanup goroutine has returned
	closeOnce sync.Once
	closeErr  error
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// Open opens (creating it if needed) the SQLite database file at path,
// creates the store's tables if they do not exist, and returns a Store with
// its background cleanup running. It returns an error that lists every
// problem with the configuration. path is a file name; an in-memory database
// cannot be used, since the store's connections must share the file.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	err := cfg.validate()
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		err = errors.Join(err, fmt.Errorf("sqlitestore: path %q must be a plain file name (no URI, no query, not :memory:)", path))
	}
	if err != nil {
		return nil, err
	}
	s := &Store{table: cfg.table, cfg: cfg, log: cfg.logger, now: time.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.open(path); err != nil {
		return nil, err
	}
	s.startCleanup()
	return s, nil
}

// open opens the writer, which turns the file to WAL mode, creates the
// tables, then opens the readers, and prepares the store's statements.
func (s *Store) open(path string) error {
	syncMode := "NORMAL"
	if s.cfg.fullSync {
		syncMode = "FULL"
	}
	busy := "busy_timeout(" + strconv.FormatInt(s.cfg.busyTimeout.Milliseconds(), 10) + ")"
	w := url.Values{"_pragma": {busy, "journal_mode(WAL)", "synchronous(" + syncMode + ")", "foreign_keys(1)"},
		"_txlock": {"immediate"}}
	r := url.Values{"_pragma": {busy, "query_only(1)"}}

	var err error
	if s.writer, err = sql.Open(s.cfg.driver, path+"?"+w.Encode()); err != nil {
		return fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	ctx := context.Background()
	if err := s.migrate(ctx); err != nil {
		s.writer.Close()
		return err
	}
	if s.reader, err = sql.Open(s.cfg.driver, path+"?"+r.Encode()); err != nil {
		s.writer.Close()
		return fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	s.reader.SetMaxOpenConns(s.cfg.readers)
	s.reader.SetMaxIdleConns(s.cfg.readers)
	if s.q, err = prepareQueries(ctx, s.reader, s.writer, s.table); err != nil {
		s.reader.Close()
		s.writer.Close()
		return fmt.Errorf("sqlitestore: preparing statements: %w", err)
	}
	return nil
}

// Close stops the background cleanup, waits for it to return, and closes
// the database. It is safe to call more than once; the store must not be
// used after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cleanup.Stop()
		s.closeErr = errors.Join(s.q.close(), s.reader.Close(), s.writer.Close())
	})
	return s.closeErr
}

// write runs fn in a write transaction (BEGIN IMMEDIATE) on the single
// writer connection, and commits it if fn returns nil. fn runs the writer's
// prepared statements through tx.StmtContext, which reuses them on the
// transaction's connection.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// micros returns the store's clock in microseconds since the Unix epoch.
func (s *Store) micros() int64 { return s.now().UnixMicro() }

// Load returns the live record at key, a tombstone included, or
// session.ErrNotFound. One statement, on a reader.
func (s *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	rows, err := s.q.load.QueryContext(ctx, []byte(key), s.micros())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: loading: %w", err)
	}
	defer rows.Close()
	var b recordBuilder
	for rows.Next() {
		if err := b.scan(rows); err != nil {
			return nil, fmt.Errorf("sqlitestore: loading: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: loading: %w", err)
	}
	if !b.found {
		return nil, session.ErrNotFound
	}
	return b.record()
}

// Create stores rec at key, or fails with session.ErrExists if key holds a
// live record or a tombstone. An expired record at key is replaced. One
// write transaction: two statements and one per value.
func (s *Store) Create(ctx context.Context, key string, rec *session.Record) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, s.q.deleteExpiredAt).ExecContext(ctx, []byte(key), s.micros()); err != nil {
			return err
		}
		var id int64
		err := tx.StmtContext(ctx, s.q.create).QueryRowContext(ctx, createArgs(key, rec)...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return session.ErrExists
		}
		if err != nil {
			return err
		}
		for name, v := range rec.Values.All() {
			if _, err := tx.StmtContext(ctx, s.q.insertValue).ExecContext(ctx, id, []byte(name), blob(v)); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("creating", err)
}

// Update applies d to the live record at key atomically, or fails with
// session.ErrNotFound: it never creates a record. Values that d does not
// name are not rewritten, and a touch (no value changes) writes only the
// session row. One write transaction: one statement, and one per value
// changed (one for Clear).
func (s *Store) Update(ctx context.Context, key string, d session.Delta) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.StmtContext(ctx, s.q.update).QueryRowContext(ctx, deltaArgs([]byte(key), s.micros(), &d)...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return session.ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.writeValues(ctx, tx, id, &d)
	})
	return wrap("updating", err)
}

// writeValues applies the values part of d to session id: Clear, Delete,
// then Set.
func (s *Store) writeValues(ctx context.Context, tx *sql.Tx, id int64, d *session.Delta) error {
	if d.Clear {
		if _, err := tx.StmtContext(ctx, s.q.clearValues).ExecContext(ctx, id); err != nil {
			return err
		}
	}
	for _, name := range d.Delete {
		if _, err := tx.StmtContext(ctx, s.q.deleteValue).ExecContext(ctx, id, []byte(name)); err != nil {
			return err
		}
	}
	for name, v := range d.Set {
		if _, err := tx.StmtContext(ctx, s.q.insertValue).ExecContext(ctx, id, []byte(name), blob(v)); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the record at key, if any, and the records its tombstones
// lead to, 8 records at most. It is idempotent. One write transaction: two
// statements per record.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		next := []byte(key)
		for range maxChain {
			var id int64
			var tomb bool
			var following []byte
			err := tx.StmtContext(ctx, s.q.findByKey).QueryRowContext(ctx, next).Scan(&id, &tomb, &following)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(ctx, s.q.deleteByID).ExecContext(ctx, id); err != nil {
				return err
			}
			if !tomb || following == nil {
				return nil
			}
			next = following
		}
		return nil
	})
	return wrap("deleting", err)
}

// wrap returns err with what the store was doing, leaving the contract's
// sentinels as they are.
func wrap(doing string, err error) error {
	if err == nil || errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrExists) {
		return err
	}
	return fmt.Errorf("sqlitestore: %s: %w", doing, err)
}
