package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sessionid/session"
)

// Renewal in cluster mode.
//
// The old and the new key hash to different slots, usually on different
// nodes, so no script can move a record from one to the other. Renew runs
// an optimistic protocol instead, each step one atomic script on one key:
//
//  1. Read the record at old with its version (a counter every Update
//     increments; it starts at a random value, see newVersion). No live
//     record: ErrNotFound, and nothing was written.
//  2. Create the renewed record (the delta applied) at new, and list it in
//     its user's index, in one pipeline. New taken (a record or a
//     tombstone): ErrExists, and no record was written (an index entry
//     that leads to no record of the user's is ignored and cleaned up
//     later).
//  3. At old, if the record is still live with the same version, replace it
//     with the tombstone (or nothing). Otherwise delete new again, and
//     either start over at 1 after a short random pause (an update came in
//     between: its change must not be lost) or, if old is gone, return
//     ErrNotFound.
//
// Why no session comes back and none is lost:
//
//   - Until step 3 succeeds, new is unreachable by its ID: the ID has not
//     left Renew and no tombstone points to it. Only DeleteUser can reach it,
//     through the index, and then it ends the session, as it was asked to:
//     a step 3 that commits afterwards leaves a tombstone leading nowhere.
//   - Step 3 and every other write to old are atomic scripts on old's node,
//     so each of them runs entirely before or after it. A Delete before it
//     removes old: step 3 finds it gone and deletes new. A Delete after it
//     finds the tombstone and follows Next (the Manager's tombstones name
//     new) to new. Either way neither key holds a live record once both are
//     done. (Renewed without a tombstone, the session has simply moved on,
//     as on one node.)
//   - An Update before step 3 changes the version: step 3 refuses, and the
//     renewal starts over from the updated record. An Update after it finds
//     a tombstone and fails with ErrNotFound, as on one node.
//   - Of two renewals of one old key, one step 3 wins; the other finds a
//     tombstone and deletes its copy.
//
// If a step fails on the network or the context, the outcome of that step is
// unknown, so new is not deleted (step 3 may have committed): a copy that was
// never committed is unreachable and expires at its idle deadline.

// maxRenewAttempts bounds how often a cluster renewal starts over because
// updates kept changing the record under it.
const maxRenewAttempts = 8

// errBusy is returned when a cluster renewal never found the record still.
var errBusy = errors.New("redisstore: renewing: the session changed under every attempt")

// cleanupTimeout bounds the deletion of a renewal's uncommitted copy, which
// runs even when the caller's context has ended.
const cleanupTimeout = time.Second

func (s *Store) renewAcrossSlots(ctx context.Context, oldKey, newKey string, d *session.Delta, tomb *session.Tombstone) error {
	for attempt := 0; ; attempt++ {
		done, err := s.renewAttempt(ctx, oldKey, newKey, d, tomb)
		if done {
			return err
		}
		if attempt == maxRenewAttempts-1 {
			return errBusy
		}
		if err := backOff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backOff waits a random time that grows with attempt, up to about 16ms, so
// that a renewal lets a burst of updates (the requests a page fires at once)
// pass instead of colliding with each of them.
func backOff(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Millisecond << min(attempt, 4)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// renewAttempt runs the protocol once; it reports false when it should be
// run again.
func (s *Store) renewAttempt(ctx context.Context, oldKey, newKey string, d *session.Delta, tomb *session.Tombstone) (bool, error) {
	old, version, err := s.load(ctx, oldKey)
	if err != nil {
		return true, err
	}
	if old.Tombstone != nil {
		return true, session.ErrNotFound
	}
	if err := s.create(ctx, newKey, d.Apply(old)); err != nil {
		if errors.Is(err, session.ErrExists) {
			return true, err
		}
		return true, fmt.Errorf("redisstore: renewing: %w", err)
	}
	var tombFields []any
	expires := ""
	if tomb != nil {
		tombFields, expires = tombstoneRecord(tomb), micros(tomb.Expires)
	}
	args := append(s.header(s.clock(), oldKey, 2+len(tombFields)), version, expires)
	n, err := swapScript.Run(ctx, s.client, []string{s.sessionKey(oldKey)}, append(args, tombFields...)...).Int64()
	if err != nil {
		return true, fmt.Errorf("redisstore: renewing: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	s.discard(ctx, newKey)
	if n == 0 {
		return true, session.ErrNotFound
	}
	return false, nil
}

// discard deletes a record no client knows the key of, even if ctx has
// ended; should that fail, the record expires on its own.
func (s *Store) discard(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	s.client.Del(ctx, s.sessionKey(key))
}
