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
	prefix  string
	cluster *bool // nil: decided by the client's type
	clock   func() time.Time
}

func defaultConfig() config {
	return config{prefix: DefaultKeyPrefix, clock: time.Now}
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
	return errors.Join(errs...)
}
