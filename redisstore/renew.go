package redisstore

import (
	"context"
	"fmt"

	"github.com/sessionid/session"
)

// Renew moves the live record at oldKey to newKey, applying d, and leaves
// tomb (a record that expires at tomb.Expires) or nothing at oldKey. It fails
// with session.ErrNotFound if oldKey holds no live record, and then creates
// nothing, and with session.ErrExists if newKey holds a record or a
// tombstone.
//
// On one node it is one script, atomic, that also lists newKey in the user's
// index. In cluster mode the two keys live in different slots, and Renew
// runs the optimistic protocol described in renew_cluster.go: three round
// trips when nothing races with it.
func (s *Store) Renew(ctx context.Context, oldKey, newKey string, d session.Delta, tomb *session.Tombstone) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.forgetLocal(oldKey, newKey)
	if s.cluster {
		return s.renewAcrossSlots(ctx, oldKey, newKey, &d, tomb)
	}
	return s.renewOneNode(ctx, oldKey, newKey, &d, tomb)
}

func (s *Store) renewOneNode(ctx context.Context, oldKey, newKey string, d *session.Delta, tomb *session.Tombstone) error {
	var tombFields []any
	expires := ""
	if tomb != nil {
		tombFields, expires = tombstoneRecord(tomb), micros(tomb.Expires)
	}
	args := append(s.header(s.clock(), newKey, 2+len(tombFields)+deltaLen(d)), expires, len(tombFields))
	args = deltaArgs(append(args, tombFields...), d)
	keys := []string{s.sessionKey(oldKey), s.sessionKey(newKey)}
	n, err := renewScript.Run(ctx, s.client, keys, args...).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: renewing: %w", err)
	case n == 0:
		return session.ErrNotFound
	case n == 2:
		return session.ErrExists
	}
	return nil
}
