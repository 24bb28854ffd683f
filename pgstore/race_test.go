package pgstore

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/stretchr/testify/require"
)

// These tests stop a store call on a lock that another transaction holds,
// change things in that transaction, then let the call go on: the races the
// conformance suite can only hope to hit.

// raceSetup returns a store whose pool has its own application name, and a
// second pool on the same database for the transaction that races it.
func raceSetup(t *testing.T) (s *Store, other *pgxpool.Pool, app string) {
	app = testenv.RandomName("pgstore_race_")
	pool := testPool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.RuntimeParams["application_name"] = app })
	return newTestStore(t, pool), testPool(t), app
}

// waitBlocked waits until a connection of app waits for a lock.
func waitBlocked(t *testing.T, pool *pgxpool.Pool, app string) {
	t.Helper()
	require.True(t, testenv.WaitFor(10*time.Second, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n))
		return n > 0
	}), "the store call never waited for the lock")
}

// inBackground runs f in a goroutine and returns a channel with its error.
func inBackground(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// TestUpdateDeletesWhatWasAddedWhileItWaited: an update that deletes values
// must see a value added by the transaction it waited for, or the deletion,
// which comes later, would be lost.
func TestUpdateDeletesWhatWasAddedWhileItWaited(t *testing.T) {
	testURL(t)
	for name, d := range map[string]session.Delta{
		"Delete": {Delete: []string{"x"}},
		"Clear":  {Clear: true, Set: map[string][]byte{"y": []byte("new")}},
	} {
		t.Run(name, func(t *testing.T) {
			s, other, app := raceSetup(t)
			ctx := context.Background()
			key := newKey(t)
			require.NoError(t, s.Create(ctx, key, bigRecord(t, "", 0, 0)))
			tx, err := other.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			var id int64
			require.NoError(t, tx.QueryRow(ctx, "SELECT id FROM "+s.tables.sessions+" WHERE key = $1 FOR NO KEY UPDATE", []byte(key)).Scan(&id))
			_, err = tx.Exec(ctx, "INSERT INTO "+s.tables.values+" (session_id, name, value) VALUES ($1, 'x', 'old')", id)
			require.NoError(t, err)

			done := inBackground(func() error { return s.Update(ctx, key, d) })
			waitBlocked(t, other, app)
			require.NoError(t, tx.Commit(ctx))
			require.NoError(t, <-done)

			rec, err := s.Load(ctx, key)
			require.NoError(t, err)
			require.NotContains(t, maps.Collect(rec.Values.All()), "x", "the update came last: its deletion stands")
		})
	}
}

// TestDeleteFollowsARenewalThatRacedIt: a renewal that commits while Delete
// waits for the session's row moves the row, but Delete still finds it.
func TestDeleteFollowsARenewalThatRacedIt(t *testing.T) {
	s, other, app := raceSetup(t)
	ctx := context.Background()
	oldKey, newKey := newKey(t), newKey(t)
	require.NoError(t, s.Create(ctx, oldKey, bigRecord(t, "alice", 2, 16)))

	// The store's own renewal, held open in a transaction.
	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var oldLive bool
	var moved int64
	require.NoError(t, tx.QueryRow(ctx, s.q.lockForRenew, []byte(oldKey)).Scan(&oldLive))
	tomb := &session.Tombstone{Next: newKey, GraceUntil: time.Now().Add(time.Minute), Expires: time.Now().Add(time.Minute)}
	require.NoError(t, tx.QueryRow(ctx, s.q.renew, renewArgs(oldKey, newKey, &session.Delta{}, tomb)...).Scan(&moved))
	require.True(t, oldLive)
	require.EqualValues(t, 1, moved)

	done := inBackground(func() error { return s.Delete(ctx, oldKey) })
	waitBlocked(t, other, app)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)

	_, err = s.Load(ctx, newKey)
	require.ErrorIs(t, err, session.ErrNotFound, "the session the renewal moved is ended")
	_, err = s.Load(ctx, oldKey)
	require.ErrorIs(t, err, session.ErrNotFound, "nor is the renewal's tombstone left at the key deleted")
	require.Zero(t, rowCount(t, s, "sessions"))
	require.Zero(t, rowCount(t, s, "values"))
}

// TestRenewToAKeyCreatedMeanwhile: a record created at the new key after
// Renew checked it makes Renew fail with ErrExists, and change nothing.
func TestRenewToAKeyCreatedMeanwhile(t *testing.T) {
	s, other, app := raceSetup(t)
	ctx := context.Background()
	oldKey, newKey := newKey(t), newKey(t)
	require.NoError(t, s.Create(ctx, oldKey, bigRecord(t, "alice", 2, 16)))

	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var created int64
	require.NoError(t, tx.QueryRow(ctx, s.q.create, createArgs(newKey, bigRecord(t, "bob", 1, 16))...).Scan(&created))
	require.EqualValues(t, 1, created)

	done := inBackground(func() error { return s.Renew(ctx, oldKey, newKey, session.Delta{}, nil) })
	waitBlocked(t, other, app)
	require.NoError(t, tx.Commit(ctx))
	require.ErrorIs(t, <-done, session.ErrExists)

	old, err := s.Load(ctx, oldKey)
	require.NoError(t, err, "the old record stays")
	require.Equal(t, "alice", old.User)
	require.Equal(t, 2, old.Values.Len())
	taken, err := s.Load(ctx, newKey)
	require.NoError(t, err)
	require.Equal(t, "bob", taken.User)
}

// TestDeleteUserSparesASessionThatChangedUser: a session that moved to
// another user while DeleteUser waited for it is no longer the user's.
func TestDeleteUserSparesASessionThatChangedUser(t *testing.T) {
	s, other, app := raceSetup(t)
	ctx := context.Background()
	stays, goes := newKey(t), newKey(t)
	require.NoError(t, s.Create(ctx, stays, bigRecord(t, "alice", 1, 16)))
	require.NoError(t, s.Create(ctx, goes, bigRecord(t, "alice", 1, 16)))

	tx, err := other.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	bob := "bob"
	_, err = tx.Exec(ctx, s.q.update, deltaArgs(stays, &session.Delta{User: &bob})...)
	require.NoError(t, err)

	done := inBackground(func() error {
		n, err := s.DeleteUser(ctx, "alice")
		if err == nil && n != 1 {
			t.Errorf("DeleteUser ended %d sessions, want 1", n)
		}
		return err
	})
	waitBlocked(t, other, app)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)

	rec, err := s.Load(ctx, stays)
	require.NoError(t, err, "bob's session stays")
	require.Equal(t, "bob", rec.User)
	_, err = s.Load(ctx, goes)
	require.ErrorIs(t, err, session.ErrNotFound)
}
