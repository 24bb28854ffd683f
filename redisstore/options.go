package redisstore

import (
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the prefix of every key the store writes, unless
// WithKeyPrefix sets another.
const DefaultKeyPrefix = "session:"

// Option configures a Store in New.
type Option func(*config)

type config struct {
	prefix     string
	cluster    *bool // nil: decided by the client's type
	clock      func() time.Time
	cacheAge   time.Duration // 0: no local cache
	cacheSize  int
	cacheIsSet bool
}

// DefaultLocalCacheSize is how many records the local cache keeps at most,
// unless WithLocalCacheSize says otherwise.
const DefaultLocalCacheSize = 100_000

func defaultConfig() config {
	return config{prefix: DefaultKeyPrefix, clock: time.Now, cacheSize: DefaultLocalCacheSize}
}

// WithKeyPrefix sets the prefix of every key the store writes (default
// "session:"), so that several applications, or a session store and a
// cache, can share one Redis. It must not contain "{" or "}": the store
// places its own hash tags after it. An empty prefix is allowed.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithClusterMode makes every script touch exactly one key (on), or lets
// scripts on one node touch several (off): see "Cluster mode" in the package
// documentation. By default it is off for a *redis.Client (a single node or
// a Sentinel failover client) and on for every other client, such as
// *redis.ClusterClient or *redis.Ring. Turn it on for a *redis.Client that
// talks to a proxy which spreads keys over several servers.
func WithClusterMode(on bool) Option {
	return func(c *config) { c.cluster = &on }
}

// WithClock sets the clock that decides whether a record has expired
// (default time.Now). Give the store the Manager's clock (session.WithClock)
// so that both agree. Redis itself drops expired keys by its own clock: keep
// the clocks of the servers in sync.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithLocalCache keeps the records the store reads in this process's
// memory, so that a session read again on the same instance costs no round
// trip to Redis. The trade-off, in one sentence: a session ended or changed
// by another instance may still be served here for up to maxStaleness, and
// never longer, while this instance's own changes are seen at once.
//
// Off by default. Redis tells the store of every write to a session key
// (CLIENT TRACKING, broadcast mode, on a connection of the store's own to
// each primary), which usually removes an entry within a millisecond of the
// write; maxStaleness bounds what a lost message can cost. No entry is used
// once it is older than maxStaleness, counted from when its read was sent;
// while a tracking connection is down (lost, unanswered, or its node no
// longer a primary) nothing cached is used. After this store's own Create,
// Update, Renew, Delete or DeleteUser, none of the records it changed is
// served from the cache, even before the call returns. UserSessions and
// DeleteUser always read Redis, and so does a Load under
// session.WithoutCache, which the Manager uses before it ends a session as
// expired, so that no session is ended on the strength of a cached copy.
//
// It needs a *redis.Client (a single node, or Sentinel) or a
// *redis.ClusterClient, Redis 6 or later, and Close when the store is no
// longer needed. See "Local cache" in the package documentation.
func WithLocalCache(maxStaleness time.Duration) Option {
	return func(c *config) { c.cacheAge, c.cacheIsSet = maxStaleness, true }
}

// WithLocalCacheSize bounds how many records the local cache (see
// WithLocalCache) keeps; beyond it, a new entry replaces an arbitrary one.
// The default is DefaultLocalCacheSize.
func WithLocalCacheSize(records int) Option {
	return func(c *config) { c.cacheSize = records }
}

func (c *config) validate(client redis.UniversalClient) error {
	var errs []error
	if client == nil {
		errs = append(errs, errors.New("redisstore: no Redis client"))
	}
	if strings.ContainsAny(c.prefix, "{}") {
		errs = append(errs, errors.New(`redisstore: the key prefix must not contain "{" or "}"`))
	}
	if c.clock == nil {
		errs = append(errs, errors.New("redisstore: WithClock(nil)"))
	}
	if c.cacheIsSet && c.cacheAge <= 0 {
		errs = append(errs, errors.New("redisstore: WithLocalCache needs a positive staleness bound"))
	}
	if c.cacheSize <= 0 {
		errs = append(errs, errors.New("redisstore: WithLocalCacheSize needs a positive size"))
	}
	if c.cacheIsSet {
		switch client.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			errs = append(errs, errNoCache)
		}
	}
	return errors.Join(errs...)
}
