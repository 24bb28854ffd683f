package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/cleanup"
)

// maxChain bounds how many records Delete removes along a chain of
// renewals, as the memory store does.
const maxChain = 8

// Store is a session.Store and session.UserIndex that keeps sessions in
// PostgreSQL: a row per session, a row per value (see the package
// documentation for the schema and the cost of each call).
//
// Create one with New and its tables with Migrate; the zero value is not
// usable. A Store is safe for concurrent use. Call Close to stop its
// background cleanup; Close does not close the pool.
type Store struct {
	pool   *pgxpool.Pool
	tables tables
	q      queries
	cfg    config
	log    *slog.Logger

	cleanup *cleanup.Loop
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// New returns a Store on pool configured by opts, with its background
// cleanup running, or an error that lists every problem with the
// configuration. It does not touch the database: call Migrate to create the
// tables.
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	t, err := cfg.validate()
	if pool == nil {
		err = errors.Join(err, errors.New("pgstore: pool must not be nil"))
	}
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, tables: t, q: newQueries(t), cfg: cfg, log: cfg.logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.startCleanup()
	return s, nil
}

// Close stops the background cleanup and waits for it to return. It is safe
// to call more than once. The store still answers after Close.
func (s *Store) Close() error {
	s.cleanup.Stop()
	return nil
}

// Load returns the live record at key, a tombstone included, or
// session.ErrNotFound. One query.
func (s *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	var row recordRow
	err := s.pool.QueryRow(ctx, s.q.load, []byte(key)).Scan(row.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: loading: %w", err)
	}
	return row.record()
}

// Create stores rec at key, or fails with session.ErrExists if key holds a
// live record or a tombstone. An expired record at key is replaced. One
// round trip: a batch of two statements in one transaction.
func (s *Store) Create(ctx context.Context, key string, rec *session.Record) error {
	var created int64
	b := &pgx.Batch{}
	b.Queue(s.q.deleteExpiredAt, []byte(key))
	b.Queue(s.q.create, createArgs(key, rec)...).QueryRow(scanInto(&created))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pgstore: creating: %w", err)
	}
	if created == 0 {
		return session.ErrExists
	}
	return nil
}

// Update applies d to the live record at key atomically, or fails with
// session.ErrNotFound: it never creates a record. Values that d does not
// name are not rewritten, and a touch (no value changes) writes only the
// session row. One round trip.
func (s *Store) Update(ctx context.Context, key string, d session.Delta) error {
	args := deltaArgs(key, &d)
	var updated int64
	if !changesValues(&d) {
		tag, err := s.pool.Exec(ctx, s.q.update, args...)
		if err != nil {
			return fmt.Errorf("pgstore: updating: %w", err)
		}
		updated = tag.RowsAffected()
	} else {
		// Both statements of a batch run in one implicit transaction, so
		// the lock taken by the first is held by the second.
		b := &pgx.Batch{}
		if d.Clear || len(d.Delete) > 0 {
			b.Queue(s.q.lock, []byte(key))
		}
		b.Queue(s.q.updateValues, append(args, valueArgs(&d)...)...).QueryRow(scanInto(&updated))
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("pgstore: updating: %w", err)
		}
	}
	if updated == 0 {
		return session.ErrNotFound
	}
	return nil
}

// Delete removes the record at key, if any, and the records its tombstones
// lead to, 8 records at most; a renewal that raced the deletion is followed
// too. It is idempotent. One round trip.
func (s *Store) Delete(ctx context.Context, key string) error {
	// The first statement finds the session by id even if a renewal moved
	// it while the statement waited for its lock, but cannot see the
	// tombstone that renewal left at key: the second, which starts after
	// the first has finished, does.
	b := &pgx.Batch{}
	b.Queue(s.q.deleteChain, []byte(key))
	b.Queue(s.q.deleteChain, []byte(key))
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pgstore: deleting: %w", err)
	}
	return nil
}

// scanInto returns a batch callback that scans a single value into dst.
func scanInto(dst any) func(pgx.Row) error {
	return func(row pgx.Row) error { return row.Scan(dst) }
}
