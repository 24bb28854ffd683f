package redisstore

import "github.com/redis/go-redis/v9"

// The store's Lua scripts. Every write but a new visitor's session (see
// Store.createFresh) is one script, so that it reads and changes a record
// in one atomic step on the server: no read-modify-write from the client.
//
// Every script starts with the same arguments (see Store.header):
//
//	ARGV[1]  the store's clock, Unix microseconds: what is "now" for expiry
//	ARGV[2]  "1" when the script may derive other keys' names (one node),
//	         "" in cluster mode, where it touches only KEYS[1]
//	ARGV[3]  the key prefix, to derive names in one-node mode
//	ARGV[4]  the store key (session key) the script is about, or ""
//
// The fields of a session hash are listed in doc.go. Times are decimal Unix
// microseconds, which Lua's doubles hold exactly until the year 2255.

// base opens every script that reads session records: the arguments they
// all start with, and the helpers most of them need. Lua makes a script's
// functions anew, as closures, on every call, and that costs: updates, the
// writes requests make most, carry only base and what they run.
const base = `
local NOW = tonumber(ARGV[1])
local ONE_NODE = ARGV[2] == '1'

-- ms turns microseconds into the milliseconds Redis expires keys at,
-- rounded up so that Redis never drops a record before its deadline.
local function ms(us) return string.format('%.0f', math.ceil(us / 1000)) end

-- inspect tells what key holds at NOW: 'missing', 'expired' (a hash without
-- deadlines counts as expired), 'tomb' or 'live', and the fields it read:
-- idle deadline, absolute deadline, tombstone's next key, user, version;
-- for a live record also its idle and absolute deadlines as numbers.
local function inspect(key)
  local f = redis.call('HMGET', key, 'md', 'ma', 'mt', 'mu', 'mn')
  local idle, abs = tonumber(f[1]), tonumber(f[2])
  if not idle or not abs then
    if redis.call('EXISTS', key) == 0 then return 'missing', f end
    return 'expired', f
  end
  if math.min(idle, abs) <= NOW then return 'expired', f end
  if f[3] then return 'tomb', f end
  return 'live', f, idle, abs
end

-- batched calls cmd on key with the items of list from index from to index
-- to, a thousand at a time: Lua cannot unpack an unbounded list into one
-- call.
local function batched(cmd, key, list, from, to)
  for i = from, to, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, to)))
  end
end
`

// index keeps the user index on one node; it needs base.
const index = `
local function user_key(u) return ARGV[3] .. 'u:{' .. u .. '}' end

-- index_add lists member in the user index zkey with score, the absolute
-- deadline in milliseconds; drops members whose deadline has passed; and
-- lets the index expire with its last member.
local function index_add(zkey, member, score)
  redis.call('ZADD', zkey, score, member)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', string.format('%.0f', math.floor(NOW / 1000)))
  local top = redis.call('ZRANGE', zkey, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', zkey, top[2]) end
end

-- index_record lists member, a record of user with absolute deadline abs
-- (microseconds), in the user's index: on one node only, where the script
-- may touch the index's key.
local function index_record(member, user, abs)
  if ONE_NODE and user and user ~= '' then
    index_add(user_key(user), member, ms(tonumber(abs)))
  end
end
`

// lib is shared by the scripts that need it: base, index and the rest.
const lib = base + index + `
local function session_key(k) return ARGV[3] .. 's:{' .. k .. '}' end

-- expire makes Redis drop key at deadline (microseconds), or drops it now
-- if that has passed; it reports whether key is still there.
local function expire(key, deadline)
  if deadline <= NOW then
    redis.call('DEL', key)
    return false
  end
  redis.call('PEXPIREAT', key, ms(deadline))
  return true
end

-- delete_chain deletes the record at key and, while it finds tombstones,
-- the records they lead to (on one node; in cluster mode it returns the next
-- key for the client to follow). With user set, it leaves a live record of
-- another user alone. It returns how many live records it deleted and the
-- next store key, or ''.
local function delete_chain(key, user)
  local live = 0
  for hop = 1, 8 do
    local state, f = inspect(key)
    if state == 'missing' then return {live, ''} end
    -- A tombstone is followed even past its own deadline: the session it
    -- leads to may well be alive.
    if f[3] then
      redis.call('DEL', key)
      if not ONE_NODE or f[3] == '' then return {live, f[3]} end
      key = session_key(f[3])
    else
      if state == 'live' and user ~= '' and f[4] ~= user then return {live, ''} end
      redis.call('DEL', key)
      if state == 'live' then live = live + 1 end
      return {live, ''}
    end
  end
  return {live, ''}
end
`

// nextVersion goes with applyDelta.
const nextVersion = `
-- next_version returns what HINCRBY would leave in a version field holding
-- n (false when the field is missing) once counted up, so that an update
-- writes the version in the HSET it makes anyway; or nil when only HINCRBY
-- can tell: n is not a decimal from 1 to 8999999999999999999, which HINCRBY
-- reads and counts up without overflowing. Versions start below 2^62 (see
-- newVersion): HINCRBY is left with a version of 0 and with hashes the
-- store did not write.
local function next_version(n)
  if not n then return '1' end
  local len = #n
  if not ((len < 19 or (len == 19 and string.byte(n) < 57)) and string.find(n, '^[1-9]%d*$')) then
    return nil
  end
  local last = string.byte(n, -1)
  if last < 57 then return string.sub(n, 1, -2) .. string.char(last + 1) end
  local head, nines = string.match(n, '^(.-)(9+)$')
  local zeros = string.rep('0', #nines)
  if head == '' then return '1' .. zeros end
  return string.sub(head, 1, -2) .. string.char(string.byte(head, -1) + 1) .. zeros
end
`

// applyDelta applies the Delta encoded from ARGV[i] to the live record at
// key, which inspect read as f, idle and abs, in Delta.Apply's order: Clear,
// Delete, Set, then the other fields. The encoding (see deltaArgs): clear
// ("1"), user given ("1"), user, idle deadline ("" when unchanged), its
// expiry time in milliseconds ("" when unchanged or left to ms(), see
// expiryMillis), n, n value fields to delete, m, m field/value items to set:
// the values, then the user, times and remember flag the delta sets. It counts the change
// in the version, in the same HSET, and moves the record's expiry when the
// delta moves its idle deadline; it sets alive, whether the record is still
// there, and user, its user (and changes idle).
//
// It is Lua to splice into a script after base and nextVersion, where key,
// i, f, idle and abs are set, rather than a function: Lua creates a script's
// functions anew on every call, and every update runs this.
const applyDelta = `
local alive, user = true, f[4]
if ARGV[i] == '1' then
  local gone = {}
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, 1) == 'v' then gone[#gone + 1] = name end
  end
  batched('HDEL', key, gone, 1, #gone)
end
local del = i + 6
local ndel = tonumber(ARGV[del - 1])
if ndel > 0 then batched('HDEL', key, ARGV, del, del + ndel - 1) end
local set = del + ndel + 1
local last = set + tonumber(ARGV[set - 1]) - 1
if ARGV[i + 1] == '1' then
  user = ARGV[i + 2]
  if user == '' then redis.call('HDEL', key, 'mu') end
end
local version = next_version(f[5])
if version and last - set < 998 then
  redis.call('HSET', key, 'mn', version, unpack(ARGV, set, last))
else
  batched('HSET', key, ARGV, set, last)
  if version then redis.call('HSET', key, 'mn', version)
  else redis.call('HINCRBY', key, 'mn', 1) end
end
-- The key already expires at the record's deadline (RENAME keeps it):
-- only a new idle deadline moves it.
if ARGV[i + 3] ~= '' then
  idle = tonumber(ARGV[i + 3])
  local deadline = math.min(idle, abs)
  if deadline <= NOW then
    redis.call('DEL', key)
    alive = false
  else
    local at = ARGV[i + 4]
    if at == '' or abs < idle then at = ms(deadline) end
    redis.call('PEXPIREAT', key, at)
  end
end
`

// createScript stores a new record at KEYS[1] unless that key holds a live
// record or a tombstone. ARGV[5]: the record's deadline; ARGV[6] and
// ARGV[7]: its user and absolute deadline (for the index); ARGV[8...]: its
// field/value pairs. Returns 1, or 0 if the key is taken. A session with no
// user index to keep is created without it (see Store.createFresh).
var createScript = redis.NewScript(lib + `
local state = inspect(KEYS[1])
if state == 'live' or state == 'tomb' then return 0 end
if state == 'expired' then redis.call('DEL', KEYS[1]) end
if tonumber(ARGV[5]) <= NOW then return 1 end
batched('HSET', KEYS[1], ARGV, 8, #ARGV)
expire(KEYS[1], tonumber(ARGV[5]))
index_record(ARGV[4], ARGV[6], ARGV[7])
return 1
`)

// updateScript applies the delta from ARGV[5] to the live record at
// KEYS[1]. Returns {0} when there is none (missing, expired, tombstone: an
// update never creates), else {1, the absolute deadline in milliseconds}, or
// {1, 0} when the delta ended the record. It defines the index helpers only
// when the delta sets a user.
var updateScript = redis.NewScript(base + nextVersion + `
local key, i = KEYS[1], 5
local state, f, idle, abs = inspect(key)
if state ~= 'live' then
  if state == 'expired' then redis.call('DEL', key) end
  return {0}
end
` + applyDelta + `
if not alive then return {1, 0} end
if ARGV[6] == '1' then
` + index + `
  index_record(ARGV[4], user, f[2])
end
return {1, math.ceil(abs / 1000)}
`)

// renewScript is Renew on one node: it moves the live record at KEYS[1] to
// KEYS[2] (store key ARGV[4]) applying the delta, and leaves a tombstone at
// KEYS[1]. ARGV[5]: the tombstone's deadline ("" for none); ARGV[6]: n;
// ARGV[7...]: n tombstone field/value items; then the delta. Returns 1,
// 0 when KEYS[1] holds no live record, 2 when KEYS[2] is taken.
var renewScript = redis.NewScript(lib + nextVersion + `
local old, new = KEYS[1], KEYS[2]
local state, f, idle, abs = inspect(old)
if state ~= 'live' then
  if state == 'expired' then redis.call('DEL', old) end
  return 0
end
state = inspect(new)
if state == 'live' or state == 'tomb' then return 2 end
redis.call('RENAME', old, new)
local ntomb = tonumber(ARGV[6])
local key, i = new, 7 + ntomb
` + applyDelta + `
if alive then index_record(ARGV[4], user, f[2]) end
if ARGV[5] ~= '' and tonumber(ARGV[5]) > NOW then
  batched('HSET', old, ARGV, 7, 6 + ntomb)
  expire(old, tonumber(ARGV[5]))
end
return 1
`)

// swapScript is the last step of Renew in cluster mode: it replaces the
// record at KEYS[1] with a tombstone, but only if it is still live and its
// version is ARGV[5] (no update came in between). ARGV[6]: the tombstone's
// deadline ("" for none); ARGV[7...]: its field/value pairs. Returns 1, 0
// when the record is gone, 2 when it changed.
var swapScript = redis.NewScript(lib + `
local state, f = inspect(KEYS[1])
if state ~= 'live' then
  if state == 'expired' then redis.call('DEL', KEYS[1]) end
  return 0
end
if (f[5] or '') ~= ARGV[5] then return 2 end
redis.call('DEL', KEYS[1])
if ARGV[6] ~= '' and tonumber(ARGV[6]) > NOW then
  batched('HSET', KEYS[1], ARGV, 7, #ARGV)
  expire(KEYS[1], tonumber(ARGV[6]))
end
return 1
`)

// deleteScript deletes the record at KEYS[1] and follows its renewals (see
// delete_chain). ARGV[5]: a user whose records alone may be deleted, or "".
// Returns {live records deleted, next store key or ""}.
var deleteScript = redis.NewScript(lib + `
return delete_chain(KEYS[1], ARGV[5])
`)

// deleteUserScript is DeleteUser on one node: it deletes every record the
// user index KEYS[1] lists for user ARGV[5], following renewals, then the
// index. Returns how many live records it deleted.
var deleteUserScript = redis.NewScript(lib + `
local live = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  live = live + delete_chain(session_key(member), ARGV[5])[1]
end
redis.call('DEL', KEYS[1])
return live
`)

// indexAddScript lists store key ARGV[4] in the user index KEYS[1] with
// score ARGV[5], in cluster mode (on one node the session scripts do it).
var indexAddScript = redis.NewScript(lib + `
index_add(KEYS[1], ARGV[4], ARGV[5])
return 1
`)

// indexListScript drops the members of user index KEYS[1] whose absolute
// deadline has passed and returns the others with their scores.
var indexListScript = redis.NewScript(lib + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', math.floor(NOW / 1000)))
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`)

// indexPruneScript removes from user index KEYS[1] each member of the
// member/score pairs in ARGV[5...] whose score is still the one given: a
// member listed again since (a record created anew at that key) stays.
var indexPruneScript = redis.NewScript(lib + `
for i = 5, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return 1
`)

// readScript returns the hash at KEYS[1] as field/value pairs: HGETALL, for
// a client that may answer HGETALL from a client-side cache (see New).
// go-redis never caches a script's reply, since a script may write. It
// takes none of the common arguments.
var readScript = redis.NewScript(`return redis.call('HGETALL', KEYS[1])`)
