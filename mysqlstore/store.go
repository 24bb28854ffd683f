package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/cleanup"
)

// maxChain bounds how many records Delete removes along a chain of
// renewals, as the memory store does.
const maxChain = 8

// Server error numbers the store handles.
const (
	errDuplicate = 1062 // a duplicate key
	errDeadlock  = 1213 // a lock cycle, which InnoDB broke by rolling back a transaction
)

// maxAttempts bounds how many times run sends a batch that InnoDB rolled
// back to break a lock cycle.
const maxAttempts = 5

// Store is a session.Store and session.UserIndex that keeps sessions in
// MySQL 8 or MariaDB 10.11 and later: a row per session, a row per value
// (see the package documentation for the schema and the cost of each call).
//
// Create one with New and its tables with Migrate; the zero value is not
// usable. A Store is safe for concurrent use. It owns its connection pool:
// Close stops its background cleanup and closes the pool.
type Store struct {
	db     *sql.DB
	tables tables
	q      queries
	cfg    config
	log    *slog.Logger

	load atomic.Pointer[sql.Stmt] // the query of Load, prepared at the first Load

	cleanup   *cleanup.Loop
	closeOnce sync.Once
	closeErr  error
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// New returns a Store on the server dsn describes, with its background
// cleanup running, or an error that lists every problem with the
// configuration. It does not touch the server: call Migrate to create the
// tables.
//
// The store opens its own pool on a copy of dsn with the settings its SQL
// relies on: several statements per call (MultiStatements) with the
// parameters sent inline (InterpolateParams) so that a call is one round
// trip, affected rows counting matched rows (ClientFoundRows), times in UTC
// (ParseTime, Loc) and a strict sql_mode. dsn itself is not changed, and
// no other pool gets these settings. Tune the pool with DB.
func New(dsn *mysql.Config, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	t, err := cfg.validate()
	if dsn == nil {
		err = errors.Join(err, errors.New("mysqlstore: config must not be nil"))
	}
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(storeConfig(dsn))
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: %w", err)
	}
	s := &Store{db: sql.OpenDB(connector), tables: t, q: newQueries(t), cfg: cfg, log: cfg.logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.startCleanup()
	return s, nil
}

// storeConfig returns a copy of dsn with the settings the store needs.
func storeConfig(dsn *mysql.Config) *mysql.Config {
	c := dsn.Clone()
	c.MultiStatements = true
	c.InterpolateParams = true
	c.ClientFoundRows = true
	c.ParseTime = true
	c.Loc = time.UTC
	params := make(map[string]string, len(c.Params)+1)
	for k, v := range c.Params {
		params[k] = v
	}
	// Strict: a value too long for its column fails rather than being cut.
	// The mode also leaves out ANSI_QUOTES and NO_BACKSLASH_ESCAPES, which
	// would change how the SQL and its inline parameters read.
	params["sql_mode"] = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"
	c.Params = params
	return c
}

// DB returns the store's connection pool, to tune it (SetMaxOpenConns,
// SetConnMaxLifetime) or to run its own statements. It must not be closed
// but through Close.
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the background cleanup, waits for it to return, and closes
// the pool. It is safe to call more than once; the store must not be used
// after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cleanup.Stop()
		if stmt := s.load.Load(); stmt != nil {
			s.closeErr = stmt.Close()
		}
		s.closeErr = errors.Join(s.closeErr, s.db.Close())
	})
	return s.closeErr
}

// Load returns the live record at key, a tombstone included, or
// session.ErrNotFound. One query: a row per value, or one row for a record
// without values. The query is a prepared statement, which the server does
// not parse again and whose rows, times included, come in binary rather
// than as text; the first Load on each connection of the pool prepares it,
// one round trip more.
func (s *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	stmt, err := s.loadStmt(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: loading: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, bytesOf(key))
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: loading: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: loading: %w", err)
	}
	if len(recs) == 0 {
		return nil, session.ErrNotFound
	}
	return recs[0].Record, nil
}

// loadStmt returns the query of Load as a *sql.Stmt, which the first call
// creates; database/sql then prepares it on each connection that runs it.
// Calls that race to create it each prepare it; the first to finish keeps
// its statement, and the others close theirs.
func (s *Store) loadStmt(ctx context.Context) (*sql.Stmt, error) {
	if stmt := s.load.Load(); stmt != nil {
		return stmt, nil
	}
	stmt, err := s.db.PrepareContext(ctx, s.q.load)
	if err != nil {
		return nil, err
	}
	if !s.load.CompareAndSwap(nil, stmt) {
		_ = stmt.Close()
		return s.load.Load(), nil
	}
	return stmt, nil
}

// Create stores rec at key, or fails with session.ErrExists if key holds a
// live record or a tombstone. An expired record at key is replaced. One
// round trip: one transaction of a few statements (two when key is taken:
// the rollback).
func (s *Store) Create(ctx context.Context, key string, rec *session.Record) error {
	b := s.q.create(key, rec)
	_, err := s.run(ctx, b)
	if isDuplicate(err) {
		return session.ErrExists
	}
	if err != nil {
		return fmt.Errorf("mysqlstore: creating: %w", err)
	}
	return nil
}

// Update applies d to the live record at key atomically, or fails with
// session.ErrNotFound: it never creates a record. Values that d does not
// name are not rewritten, and a touch (no value changes) writes only the
// session row, in a single statement. One round trip.
func (s *Store) Update(ctx context.Context, key string, d session.Delta) error {
	b := s.q.update(key, &d)
	affected, err := s.run(ctx, b)
	if err != nil {
		return fmt.Errorf("mysqlstore: updating: %w", err)
	}
	if affected[b.result] == 0 {
		return session.ErrNotFound
	}
	return nil
}

// Delete removes the record at key, if any, and the records its tombstones
// lead to, 8 records at most; a renewal that raced the deletion is followed
// too. It is idempotent. One round trip.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.run(ctx, s.q.deleteChain(key)); err != nil {
		return fmt.Errorf("mysqlstore: deleting: %w", err)
	}
	return nil
}

// run sends the statements of b in one round trip and returns the rows
// each affected. A deletion, which locks a session row by id, and an update,
// which locks it by key, lock the row's two index entries in opposite
// orders; when they form a cycle, InnoDB rolls one of the two transactions
// back whole, and run sends its batch again, up to maxAttempts times in
// all. Every batch can run again: a transaction's statements took no effect,
// and the statements of Delete, each its own transaction, are idempotent.
func (s *Store) run(ctx context.Context, b *batch) ([]int64, error) {
	for attempt := 1; ; attempt++ {
		affected, err := s.runOnce(ctx, b)
		var myErr *mysql.MySQLError
		if attempt < maxAttempts && errors.As(err, &myErr) && myErr.Number == errDeadlock && ctx.Err() == nil {
			continue
		}
		return affected, err
	}
}

// runOnce sends the statements of b in one round trip and returns the rows
// each affected. If one fails, the server runs none of the following ones
// and keeps open the transaction b began: runOnce rolls it back, or drops
// the connection when it cannot.
func (s *Store) runOnce(ctx context.Context, b *batch) ([]int64, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var affected []int64
	var execErr error
	rawErr := conn.Raw(func(dc any) error {
		ex := dc.(driver.ExecerContext)
		res, err := ex.ExecContext(ctx, b.sql.String(), b.args)
		if err == nil {
			affected = res.(mysql.Result).AllRowsAffected()
			return nil
		}
		execErr = err
		if errors.Is(err, driver.ErrBadConn) || !b.tx {
			return err
		}
		if _, err := ex.ExecContext(context.WithoutCancel(ctx), "ROLLBACK", nil); err != nil {
			return driver.ErrBadConn // database/sql then closes the connection
		}
		return nil
	})
	if execErr != nil {
		return nil, execErr
	}
	if rawErr != nil {
		return nil, rawErr
	}
	if len(affected) != b.count {
		return nil, fmt.Errorf("%d results for %d statements", len(affected), b.count)
	}
	return affected, nil
}

// isDuplicate reports whether err is the server's duplicate key error.
func isDuplicate(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == errDuplicate
}
