package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionid/session"
)

// Store is a session.Store and session.UserIndex that keeps each session in
// one Redis hash, which Redis itself drops when the session expires.
//
// Create one with New; the zero value is not usable. A Store is safe for
// concurrent use. It does not own its client: closing the client is the
// caller's job.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	cluster bool
	cached  bool // the client may answer reads from a cache: read by script
	clock   func() time.Time

	local     *localCache // nil without WithLocalCache
	trackers  *trackers
	closeOnce sync.Once
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
)

// New returns a Store that keeps sessions through client, which may be a
// *redis.Client (one node, or Sentinel with redis.NewFailoverClient), a
// *redis.ClusterClient, or any other redis.UniversalClient. It returns an
// error that lists every problem with the configuration.
//
// New never lets a client-side cache answer the store's reads, as one
// could go on serving a session that another instance ended (see
// "Client-side caching" in the package documentation). When client is a
// *redis.Client whose options set ClientSideCacheConfig or ClientSideCache,
// or a client whose options New cannot see (a *redis.AutoPipeliner, a
// wrapper), the store reads through a script, which go-redis never caches,
// and the client keeps its cache for everything else. A *redis.Client
// without a cache, a *redis.ClusterClient and a *redis.Ring read by HGETALL.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(client); err != nil {
		return nil, err
	}
	_, oneNode := client.(*redis.Client)
	cluster := !oneNode
	if cfg.cluster != nil {
		cluster = *cfg.cluster
	}
	s := &Store{client: client, prefix: cfg.prefix, cluster: cluster, cached: mayCache(client), clock: cfg.clock}
	if cfg.cacheIsSet {
		s.local = newLocalCache(cfg.cacheAge, cfg.cacheSize)
		probe := min(max(cfg.cacheAge/2, 20*time.Millisecond), time.Second)
		ts, err := startTrackers(client, s.local, s.prefix+"s:", probe)
		if err != nil {
			return nil, err
		}
		s.trackers = ts
	}
	return s, nil
}

// Close stops the local cache's tracking connections (see WithLocalCache);
// without a local cache it does nothing. It does not close the client. The
// store must not be used after Close; a second Close does nothing.
func (s *Store) Close() error {
	if s.trackers != nil {
		s.closeOnce.Do(func() {
			s.trackers.close()
			s.local.down() // for good: no channel tells it of writes now
		})
	}
	return nil
}

// mayCache reports whether client may answer a read from a client-side
// cache: whether the store must read through a script.
func mayCache(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		opt := c.Options()
		return opt.ClientSideCacheConfig != nil || opt.ClientSideCache != nil
	case *redis.ClusterClient, *redis.Ring:
		// Their options have no cache: their node clients have none,
		// unless a NewClient function of the caller's adds one.
		return false
	default:
		return true
	}
}

// sessionKey is the Redis key of the session stored under key. The hash tag
// is the session key, so that whatever the store may keep per session lands
// in one slot.
func (s *Store) sessionKey(key string) string { return s.prefix + "s:{" + key + "}" }

// userKey is the Redis key of user's index.
func (s *Store) userKey(user string) string { return s.prefix + "u:{" + user + "}" }

// header returns the arguments every script starts with (see scripts.go),
// with room for more.
func (s *Store) header(now time.Time, key string, more int) []any {
	oneNode := "1"
	if s.cluster {
		oneNode = ""
	}
	args := make([]any, 4, 4+more)
	args[0], args[1], args[2], args[3] = strconv.FormatInt(now.UnixMicro(), 10), oneNode, s.prefix, key
	return args
}

// Load returns the live record at key, or session.ErrNotFound: one HGETALL,
// or one script when the client may cache replies (see New). A record past
// its deadline by the store's clock is not found, even before Redis drops
// it.
func (s *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.local != nil {
		return s.loadCached(ctx, key)
	}
	rec, _, err := s.load(ctx, key)
	return rec, err
}

// loadCached is Load with a local cache: a record younger than the
// staleness bound comes from the cache, unless its deadline has passed by
// the store's clock (a read from Redis would not find it) or the caller
// asked for no cache (session.WithoutCache, as the Manager does before it
// ends a session as expired); any other read goes to Redis, and a live
// record it finds is kept.
func (s *Store) loadCached(ctx context.Context, key string) (*session.Record, error) {
	rkey := s.sessionKey(key)
	if session.CacheAllowed(ctx) {
		if rec := s.local.get(rkey); rec != nil && rec.ExpiresAt().After(s.clock()) {
			return rec, nil
		}
	}
	ticket := s.local.begin(rkey)
	rec, _, err := s.load(ctx, key)
	if err == nil {
		s.local.put(ticket, rkey, rec)
	}
	return rec, err
}

// forget removes keys from the local cache, if there is one, before a write
// to them returns: its own instance never reads what it replaced.
func (s *Store) forgetLocal(keys ...string) {
	if s.local == nil {
		return
	}
	for _, k := range keys {
		s.local.invalidate(s.sessionKey(k))
	}
}

// load returns the live record at key (a tombstone included) and its version.
func (s *Store) load(ctx context.Context, key string) (*session.Record, string, error) {
	h, err := s.getAll(ctx, s.sessionKey(key))
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: loading: %w", err)
	}
	if len(h) == 0 {
		return nil, "", session.ErrNotFound
	}
	rec, version, err := decodeRecord(h)
	if err != nil {
		return nil, "", err
	}
	if !rec.ExpiresAt().After(s.clock()) {
		return nil, "", session.ErrNotFound
	}
	return rec, version, nil
}

// getAll returns the hash at Redis key: HGETALL, or readScript when the
// client may cache replies (see New), which it cannot do for a script.
func (s *Store) getAll(ctx context.Context, key string) (map[string]string, error) {
	if !s.cached {
		return s.client.HGetAll(ctx, key).Result()
	}
	reply, err := readScript.Run(ctx, s.client, []string{key}).Slice()
	if err != nil {
		return nil, err
	}
	return hashFromPairs(reply)
}

// getAllMany returns the hashes at Redis keys, in one pipeline (one round
// trip, to every node concerned), and each one's error. It too reads
// through readScript when the client may cache: go-redis does not cache
// pipelined reads today, but does not promise it.
func (s *Store) getAllMany(ctx context.Context, keys []string) ([]map[string]string, []error) {
	hashes := make([]map[string]string, len(keys))
	if s.cached {
		calls := make([]call, len(keys))
		for i, k := range keys {
			calls[i] = call{readScript, []string{k}, nil}
		}
		replies, errs := s.runAll(ctx, calls)
		for i, r := range replies {
			if errs[i] == nil {
				reply, _ := r.([]any)
				hashes[i], errs[i] = hashFromPairs(reply)
			}
		}
		return hashes, errs
	}
	errs := make([]error, len(keys))
	p := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = p.HGetAll(ctx, k)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	for i, cmd := range cmds {
		hashes[i], errs[i] = cmd.Result()
	}
	return hashes, errs
}

// hashFromPairs turns readScript's reply, field/value pairs, into a hash.
func hashFromPairs(reply []any) (map[string]string, error) {
	if len(reply)%2 != 0 {
		return nil, errCorrupt
	}
	h := make(map[string]string, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		field, ok1 := reply[i].(string)
		value, ok2 := reply[i+1].(string)
		if !ok1 || !ok2 {
			return nil, errCorrupt
		}
		h[field] = value
	}
	return h, nil
}

// Create stores rec at key, or fails with session.ErrExists if key holds a
// live record or a tombstone: one script. A record of a user is also listed
// in the user's index, in the same script on one node and in the same
// pipeline (a second node) in cluster mode.
func (s *Store) Create(ctx context.Context, key string, rec *session.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.forgetLocal(key)
	err := s.create(ctx, key, rec)
	if err != nil && !errors.Is(err, session.ErrExists) {
		return fmt.Errorf("redisstore: creating: %w", err)
	}
	return err
}

func (s *Store) create(ctx context.Context, key string, rec *session.Record) error {
	fields := encodeRecord(rec, newVersion())
	if rec.User == "" {
		if done, err := s.createFresh(ctx, key, rec, fields); done {
			return err
		}
	}
	args := append(s.header(s.clock(), key, 3+len(fields)), micros(rec.ExpiresAt()), rec.User, micros(rec.AbsoluteDeadline))
	args = append(args, fields...)
	calls := []call{{createScript, []string{s.sessionKey(key)}, args}}
	if s.cluster && rec.User != "" {
		calls = append(calls, s.indexCall(key, rec))
	}
	res, errs := s.runAll(ctx, calls)
	if errs[0] != nil {
		return errs[0]
	}
	if n, _ := res[0].(int64); n == 0 {
		return session.ErrExists
	}
	if len(errs) > 1 && errs[1] != nil {
		// A session missing from its user's index would escape DeleteUser:
		// better no session than that. The caller never learnt the key.
		s.discard(ctx, key)
		return fmt.Errorf("listing the session under its user: %w", errs[1])
	}
	return nil
}

// createFresh creates a record with no user index to keep, a new visitor's
// session, in one transaction of plain commands, which costs Redis much
// less than a script: it writes the record under a key of its own in the
// same slot, and renames it into place only if the session key is free
// (RENAMENX). It reports done = false when that key is taken, by a record
// or a tombstone, or by an expired record Redis has not dropped yet (by the
// store's clock; WithClock): createScript tells them apart.
func (s *Store) createFresh(ctx context.Context, key string, rec *session.Record, fields []any) (done bool, err error) {
	if !rec.ExpiresAt().After(s.clock()) {
		return true, nil // as createScript: nothing to keep
	}
	at := expiryMillis(rec.ExpiresAt())
	if at == "" {
		return false, nil // a deadline only the script computes
	}
	k := s.sessionKey(key)
	tmp := k + ":new"
	tx := s.client.TxPipeline()
	tx.HSet(ctx, tmp, fields...)
	tx.Do(ctx, "PEXPIREAT", tmp, at)
	moved := tx.RenameNX(ctx, tmp, k)
	tx.Del(ctx, tmp)
	if _, err := tx.Exec(ctx); err != nil {
		if e := moved.Err(); e != nil && strings.Contains(e.Error(), "no such key") {
			return true, nil // past its deadline by Redis's clock: dropped at once, as by the script
		}
		return true, err
	}
	return moved.Val(), nil
}

// indexCall lists the record at key in its user's index (cluster mode).
func (s *Store) indexCall(key string, rec *session.Record) call {
	args := append(s.header(s.clock(), key, 1), indexScore(rec))
	return call{indexAddScript, []string{s.userKey(rec.User)}, args}
}

// Update applies d to the live record at key in one script, or fails with
// session.ErrNotFound if there is none (missing, expired or a tombstone): it
// never creates a record. Only the value fields d changes are written; a
// touch writes the last-seen time, the idle deadline and the version, and
// moves the hash's expiry. A delta that sets a user costs a second round
// trip in cluster mode, to list the session in the user's index; should
// that fail, the session is deleted rather than left out of the index.
func (s *Store) Update(ctx context.Context, key string, d session.Delta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer s.forgetLocal(key)
	args := deltaArgs(s.header(s.clock(), key, deltaLen(&d)), &d)
	res, err := updateScript.Run(ctx, s.client, []string{s.sessionKey(key)}, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redisstore: updating: %w", err)
	}
	if res[0] == 0 {
		return session.ErrNotFound
	}
	if !s.cluster || d.User == nil || *d.User == "" || len(res) < 2 || res[1] == 0 {
		return nil
	}
	rec := &session.Record{User: *d.User, AbsoluteDeadline: time.UnixMilli(res[1])}
	if err := s.run(ctx, s.indexCall(key, rec)); err != nil {
		// As in Create: a session of a user that DeleteUser cannot find
		// is worse than no session.
		s.discard(ctx, key)
		return fmt.Errorf("redisstore: listing the session under its user: %w", err)
	}
	return nil
}

// Delete removes the record at key, and when it is a tombstone, the records
// its renewals lead to (at most 8): one script on one node, one per renewal
// followed in cluster mode. It is idempotent.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.deleteChains(ctx, []string{key}, "")
	if err != nil {
		s.forgetLocal(key)
		return fmt.Errorf("redisstore: deleting: %w", err)
	}
	return s.syncLocal(ctx, key)
}

// syncLocal removes keys from the local cache, if there is one, and waits
// until the cache has heard of every write made so far, for the records a
// script reached that the caller cannot name (renewals followed, a user's
// sessions).
func (s *Store) syncLocal(ctx context.Context, keys ...string) error {
	if s.local == nil {
		return nil
	}
	s.forgetLocal(keys...)
	if err := s.trackers.sync(ctx); err != nil {
		return fmt.Errorf("redisstore: waiting for the local cache: %w", err)
	}
	return nil
}

// maxChain bounds how many renewals a deletion follows from one key.
const maxChain = 8

// deleteChains deletes the records at keys and follows their renewals,
// leaving live records of users other than user alone when user is set. In
// cluster mode it follows the chains one hop at a time, all chains of a hop
// in one pipeline. It returns how many live records it deleted.
func (s *Store) deleteChains(ctx context.Context, keys []string, user string) (int, error) {
	live := 0
	for hop := 0; hop < maxChain && len(keys) > 0; hop++ {
		calls := make([]call, len(keys))
		for i, k := range keys {
			args := append(s.header(s.clock(), k, 1), user)
			calls[i] = call{deleteScript, []string{s.sessionKey(k)}, args}
		}
		res, errs := s.runAll(ctx, calls)
		if err := errors.Join(errs...); err != nil {
			return live, err
		}
		var nexts []string
		for _, r := range res {
			n, next, err := chainStep(r)
			if err != nil {
				return live, err
			}
			live += n
			if next != "" {
				nexts = append(nexts, next)
			}
		}
		keys = nexts
	}
	return live, nil
}

// chainStep reads deleteScript's reply.
func chainStep(reply any) (int, string, error) {
	r, ok := reply.([]any)
	if !ok || len(r) != 2 {
		return 0, "", fmt.Errorf("unexpected reply %v", reply)
	}
	n, _ := r[0].(int64)
	next, _ := r[1].(string)
	return int(n), next, nil
}
