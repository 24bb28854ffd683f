package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionid/session"
)

// The user index is a sorted set per user: members are the store keys of
// the user's sessions, scores their absolute deadlines in milliseconds.
// Entries are added when a session gets a user (Create, Update, Renew) and
// removed lazily: an entry whose score has passed is dropped whenever the
// index is written or listed, and one whose record is gone when UserSessions
// finds it so. An entry whose record was renewed leads, through the
// tombstone, to the new record, which has its own entry.

// UserSessions returns the live records of user (never tombstones, never
// records that belong to another user now), and forgets index entries whose
// record is gone: two round trips, plus one when there is something to
// forget.
func (s *Store) UserSessions(ctx context.Context, user string) ([]session.KeyedRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := s.indexEntries(ctx, user)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = s.sessionKey(e.key)
	}
	hashes, errs := s.getAllMany(ctx, keys)
	var out []session.KeyedRecord
	var gone []indexEntry
	now := s.clock()
	for i, h := range hashes {
		if err := errs[i]; err != nil {
			return nil, fmt.Errorf("redisstore: listing sessions of user: %w", err)
		}
		rec, _, err := decodeRecord(h)
		switch {
		case err != nil:
			return nil, err
		case len(h) == 0 || !rec.ExpiresAt().After(now):
			gone = append(gone, entries[i])
		case rec.Tombstone == nil && rec.User == user:
			out = append(out, session.KeyedRecord{Key: entries[i].key, Record: rec})
		}
	}
	if err := s.forget(ctx, user, gone); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser deletes every record of user, following renewals as Delete
// does, and returns how many live sessions it ended. On one node it is one
// atomic script. In cluster mode it costs one round trip to read the index,
// one to end every listed session (a pipeline to all nodes concerned), one
// more per renewal followed, and one to forget the entries; a renewal
// caught between its steps may then be counted twice. A live record that
// belongs to another user now is left alone.
func (s *Store) DeleteUser(ctx context.Context, user string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.cluster {
		args := append(s.header(s.clock(), "", 1), user)
		n, err := deleteUserScript.Run(ctx, s.client, []string{s.userKey(user)}, args...).Int()
		if err != nil {
			return 0, fmt.Errorf("redisstore: deleting sessions of user: %w", err)
		}
		return n, s.syncLocal(ctx)
	}
	entries, err := s.indexEntries(ctx, user)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	n, err := s.deleteChains(ctx, keys, user)
	if err != nil {
		s.forgetLocal(keys...)
		return n, fmt.Errorf("redisstore: deleting sessions of user: %w", err)
	}
	if err := s.syncLocal(ctx, keys...); err != nil {
		return n, err
	}
	return n, s.forget(ctx, user, entries)
}

// indexEntry is one member of a user index.
type indexEntry struct {
	key   string
	score any // as Redis sent it, to remove the member only if unchanged
}

// indexEntries returns the entries of user's index whose absolute deadline
// has not passed, dropping the others.
func (s *Store) indexEntries(ctx context.Context, user string) ([]indexEntry, error) {
	reply, err := indexListScript.Run(ctx, s.client, []string{s.userKey(user)}, s.header(s.clock(), "", 0)...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: reading index of user: %w", err)
	}
	entries := make([]indexEntry, 0, len(reply)/2)
	for i := 0; i+1 < len(reply); i += 2 {
		key, ok := reply[i].(string)
		if !ok {
			return nil, errors.New("redisstore: malformed user index")
		}
		entries = append(entries, indexEntry{key: key, score: reply[i+1]})
	}
	return entries, nil
}

// forget removes entries from user's index, unless listed again since.
func (s *Store) forget(ctx context.Context, user string, entries []indexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	args := s.header(s.clock(), "", 2*len(entries))
	for _, e := range entries {
		args = append(args, e.key, e.score)
	}
	if err := s.run(ctx, call{indexPruneScript, []string{s.userKey(user)}, args}); err != nil {
		return fmt.Errorf("redisstore: cleaning index of user: %w", err)
	}
	return nil
}
