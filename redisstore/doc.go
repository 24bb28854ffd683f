// Package redisstore keeps the sessions of a session.Manager in Redis, so
// that every instance of an application shares them: a single node, a
// Sentinel-managed primary, or a Redis Cluster.
//
// # Quick start
//
//	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // such as redis://localhost:6379/0
//	if err != nil {
//		log.Fatal(err)
//	}
//	opt.ContextTimeoutEnabled = true // a request's deadline bounds its Redis calls
//	client := redis.NewClient(opt)
//	defer client.Close()
//	store, err := redisstore.New(client, redisstore.WithKeyPrefix("myapp:session:"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	m, err := session.New(session.WithStore(store))
//
// For Sentinel, pass redis.NewFailoverClient(...); for a cluster,
// redis.NewClusterClient(...) (or redis.NewUniversalClient, which picks one
// of them). The store never closes the client.
//
// Set ContextTimeoutEnabled: without it, go-redis applies its own read and
// write timeouts (3 seconds by default) instead of the request's deadline
// while it waits for a server that does not answer. Do not route reads to
// replicas (ClusterOptions.ReadOnly, RouteByLatency, RouteRandomly): a
// session created a moment ago may not have reached the replica yet.
//
// # Client-side caching
//
// A go-redis client can cache replies in the application's memory
// (Options.ClientSideCacheConfig or Options.ClientSideCache): Redis tells it
// when a key it read changes, and until that message is read, the client
// answers HGETALL from memory. With MaxStaleness at its default, zero, an
// entry whose invalidation never arrives (a half-open connection) is served
// for ever: a session ended by logout or DeleteUser on one instance would
// stay usable on another. The store never reads sessions through such a
// cache; its own, with a bound, is WithLocalCache (see "Local cache"). A
// *redis.Client whose options enable one, and any client whose
// options the store cannot see (a *redis.AutoPipeliner, a wrapper of one's
// own), get their reads sent as a one-line script, which go-redis never
// caches (it caches only read commands it lists, and a script may write);
// the client keeps its cache for the application's other keys. The script
// costs the same round trip, and Redis about 5.5 µs of CPU per read instead
// of HGETALL's 1.4 (INFO commandstats, Redis 7.0, a session of twelve
// fields). A *redis.ClusterClient or *redis.Ring reads by HGETALL: go-redis
// gives their nodes no cache, and a NewClient function in their options
// must not add one.
//
// # Local cache
//
// WithLocalCache(maxStaleness) lets the store answer a read of a session it
// read recently from memory, with no round trip: a session ended or changed
// by another instance may be served here for up to maxStaleness, never
// longer, while this instance's own changes are seen at once. It is off by
// default.
//
// The store opens a connection of its own to each primary and turns on
// CLIENT TRACKING in broadcast mode for its session keys (RESP3, Redis 6 or
// later): Redis then sends it the name of every session key any client
// writes, and the store forgets that entry, usually within a millisecond of
// the write (BenchmarkLocalCacheRevocation measures it). Broadcast mode needs
// nothing from the connections that read, so the application's own client
// serves the reads; the price is one message to every instance for every
// session write in the fleet. The store checks each tracking connection with
// ROLE every half bound (at least every 20 ms, at most every second); a
// connection lost, unanswered for as long, or to a node that is no longer a
// primary drops the whole cache, and nothing is cached or served from it
// until tracking is back. On a cluster the store follows the primaries and
// drops the cache whenever the set changes. Whatever happens to these
// messages, no entry is used once it is older than maxStaleness, counted
// from when its read was sent.
//
// The rules that keep it safe:
//   - The store's own Create, Update and Renew forget the keys they write
//     before returning; Delete and DeleteUser, whose scripts may reach
//     sessions the store cannot name, also wait until Redis's messages about
//     them have arrived (a ROLE sent after the write is answered after them).
//   - A read that races with a write's message does not put the old record
//     back: a read notes how many messages its part of the cache has seen
//     before it asks Redis, and keeps its reply only if no new one came.
//   - A copy can only be older than Redis's record: another instance may
//     have touched the session since. So before the Manager ends a session
//     as expired, it reads it again under session.WithoutCache, which the
//     store answers from Redis.
//   - UserSessions and DeleteUser always read Redis; unknown keys are never
//     cached.
//
// Call Store.Close when done, to close the tracking connections.
//
// # Key layout
//
// With the default prefix "session:", a session stored under key K (the
// SHA-256 of its ID, never the ID) is one hash:
//
//	session:s:{K}       the session; its hash tag is K
//	  v<name>           the value named <name>, as encoded by the Manager
//	  mc, ml, mi        created, last seen, issued at  (Unix microseconds)
//	  md, ma            idle and absolute deadlines    (Unix microseconds)
//	  mu, mp, mg        user, client address, user agent
//	  mr                "1" for a remembered session ("remember me"); absent
//	                    or "0" for one that is not
//	  mn                version, counted up by every update
//	  mt, ms, mw        a tombstone's next key, sealed successor, grace end
//
// Value fields start with "v" and metadata fields with "m", so no value name,
// however binary, collides with metadata. Each hash expires (PEXPIREAT) at
// the record's deadline, the earlier of md and ma, so Redis itself evicts
// ended sessions; the store also treats a record past its deadline by its
// own clock (WithClock) as not found, whatever Redis has done yet. Times are
// kept to the microsecond. A tombstone holds only the mt/ms/mw fields and its
// deadlines.
//
//	session:s:{K}:new   a new visitor's session for the instant of its
//	                    creation: written in one transaction and renamed
//	                    to session:s:{K} only if that key is free
//	                    (RENAMENX), never left behind
//
//	session:u:{U}       sorted set: the sessions of user U
//
// Its members are store keys, its scores the sessions' absolute deadlines in
// milliseconds; it expires with its last member. Entries of sessions that
// ended are dropped lazily, when the index is next written or listed.
//
// Redis keeps a small hash compactly (a listpack) only while every field
// fits in hash-max-listpack-value bytes, 64 by default; a longer one turns
// the hash into a hash table, about three times the memory. A browser's
// User-Agent is usually longer than 64 bytes, so on a server that keeps
// sessions in quantity, raise that setting (hash-max-listpack-value 256 in
// redis.conf, or CONFIG SET) to keep them compact. BENCHMARKS.md gives the
// bytes per session measured both ways.
//
// # Costs per request
//
// Round trips to Redis as the Manager uses the store, measured by the
// package's tests (TestRoundTrips, TestManagerRoundTrips):
//
//	read-only request           1  HGETALL; nothing is written (a script
//	                               instead with a client-side cache; none
//	                               on a hit of the local cache)
//	request that changes values 2  HGETALL + one script that writes only the
//	                               changed value fields
//	touch (idle deadline due)   2  HGETALL + one script that writes the last-seen
//	                               time, the idle deadline and the version
//	first write of a visitor    1  one transaction, no script (HSET and
//	                               PEXPIREAT of a temporary key, RENAMENX into
//	                               place, DEL); no load, as there is no
//	                               cookie yet
//	Invalidate (logout)         2  HGETALL + one script
//	Renew, Login, rotation      2  HGETALL + one script; 4 in cluster mode
//	                               (HGETALL, then Renew's three steps)
//
// The user index costs nothing on the read path. On one node the session
// scripts keep it; in cluster mode it lives in another slot, so creating a
// session of a user sends both writes in one pipeline (still one round
// trip, to two nodes), Renew pipelines it with its second step, and an
// Update that sets a user (without a renewal) costs one more round trip.
// UserSessions costs two round trips (three when it cleans the index up);
// DeleteUser one on one node, three or more in cluster mode.
//
// # Cluster mode
//
// On a *redis.Client the store's scripts may touch several keys: Renew moves
// a record atomically in one script, and Delete and DeleteUser follow
// renewals inside one script. On a Redis Cluster the keys of two sessions,
// and of a session and its user's index, live in different slots, which no
// script can span; every script then touches exactly one key. Renew runs an
// optimistic protocol (read the record and its version; create the renewed
// record at the new key; replace the old record by the tombstone only if its
// version has not changed, else undo and retry), and Delete follows renewals
// one call per hop. Either way, no update, deletion or renewal that races
// with another brings an ended session back, and no update is lost to a
// renewal.
//
// Scripts on one node derive the names of the keys they follow (a
// tombstone's successor, a user's index) from the prefix, which Redis allows
// outside a cluster. A *redis.Client in front of a proxy that spreads keys
// over several servers needs WithClusterMode(true).
//
// # Security notes
//
//   - Redis holds only hashes of session IDs: reading it, or a dump of it,
//     gives no ID that a cookie could carry. A tombstone's successor is
//     sealed with the old ID, which Redis never sees.
//   - Session values are stored as the Manager's Codec encodes them, not
//     encrypted, and user names appear in key names: protect Redis like the
//     application's database (AUTH or ACLs, TLS off the local host), or log
//     users in under opaque IDs.
//   - Every write to an existing session is a script that checks what it
//     changes, so a session ended by Delete, DeleteUser or expiry is never
//     written again, on one node or on a cluster; a new session only ever
//     lands on a free key (RENAMENX, or the create script).
//   - Without WithLocalCache every read goes to Redis, never to a
//     client-side cache (see "Client-side caching"), so a session ended on
//     one instance is ended on all of them at once. With it, another
//     instance may go on accepting it for up to the bound it sets.
package redisstore
