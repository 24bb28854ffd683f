package redisstore

import "github.com/redis/go-redis/v9"

// The store's Lua scripts. Every write is one script, so that it reads and
// changes a record in one atomic step on the server: no read-modify-write
// from the client.
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

// lib is shared by the scripts that need it.
const lib = `
local NOW = tonumber(ARGV[1])
local ONE_NODE = ARGV[2] == '1'

local function session_key(k) return ARGV[3] .. 's:{' .. k .. '}' end
local function user_key(u) return ARGV[3] .. 'u:{' .. u .. '}' end

-- ms turns microseconds into the milliseconds Redis expires keys at,
-- rounded up so that Redis never drops a record before its deadline.
local function ms(us) return string.format('%.0f', math.ceil(us / 1000)) end

-- inspect tells what key holds at NOW: 'missing', 'expired' (a hash without
-- deadlines counts as expired), 'tomb' or 'live', and the fields it read:
-- idle deadline, absolute deadline, tombstone's next key, user, version.
local function inspect(key)
  local f = redis.call('HMGET', key, 'md', 'ma', 'mt', 'mu', 'mn')
  local idle, abs = tonumber(f[1]), tonumber(f[2])
  if not idle or not abs then
    if redis.call('EXISTS', key) == 0 then return 'missing', f end
    return 'expired', f
  end
  if math.min(idle, abs) <= NOW then return 'expired', f end
  if f[3] then return 'tomb', f end
  return 'live', f
end

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

-- batched calls cmd on key with the items of list from index from to index
-- to, a thousand at a time: Lua cannot unpack an unbounded list into one
-- call.
local function batched(cmd, key, list, from, to)
  for i = from, to, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, to)))
  end
end

-- push appends the pair a, b to list t.
local function push(t, a, b)
  t[#t + 1] = a
  t[#t + 1] = b
end

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

-- apply_delta applies the Delta encoded from ARGV[i] to the live record at
-- key, whose fields inspect read as f, in Delta.Apply's order: Clear,
-- Delete, Set, then user and times. The encoding: clear ("1"), user given
-- ("1"), user, last seen, idle deadline, issued at ("" when unchanged), n,
-- n value fields to delete, m, m/2 value field/value pairs. It counts the
-- change in the version and moves the record's expiry; it returns whether
-- the record is still there, and its user.
local function apply_delta(key, i, f)
  if ARGV[i] == '1' then
    local gone = {}
    for _, name in ipairs(redis.call('HKEYS', key)) do
      if string.sub(name, 1, 1) == 'v' then gone[#gone + 1] = name end
    end
    batched('HDEL', key, gone, 1, #gone)
  end
  local del = i + 7
  local ndel = tonumber(ARGV[i + 6])
  batched('HDEL', key, ARGV, del, del + ndel - 1)
  local set = del + ndel + 1
  local writes = {}
  for j = set, set + tonumber(ARGV[set - 1]) - 1 do writes[#writes + 1] = ARGV[j] end
  local user = f[4]
  if ARGV[i + 1] == '1' then
    user = ARGV[i + 2]
    if user == '' then redis.call('HDEL', key, 'mu')
    else push(writes, 'mu', user) end
  end
  for j, name in ipairs({'ml', 'md', 'mi'}) do
    if ARGV[i + 2 + j] ~= '' then push(writes, name, ARGV[i + 2 + j]) end
  end
  batched('HSET', key, writes, 1, #writes)
  redis.call('HINCRBY', key, 'mn', 1)
  local idle = tonumber(ARGV[i + 4]) or tonumber(f[1])
  return expire(key, math.min(idle, tonumber(f[2]))), user
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

// createScript stores a new record at KEYS[1] unless that key holds a live
// record or a tombstone. ARGV[5]: the record's deadline; ARGV[6] and
// ARGV[7]: its user and absolute deadline (for the index); ARGV[8...]: its
// field/value pairs. Returns 1, or 0 if the key is taken.
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
// {1, 0} when the delta ended the record.
var updateScript = redis.NewScript(lib + `
local state, f = inspect(KEYS[1])
if state ~= 'live' then
  if state == 'expired' then redis.call('DEL', KEYS[1]) end
  return {0}
end
local alive, user = apply_delta(KEYS[1], 5, f)
if not alive then return {1, 0} end
if ARGV[6] == '1' then index_record(ARGV[4], user, f[2]) end
return {1, tonumber(ms(tonumber(f[2])))}
`)

// renewScript is Renew on one node: it moves the live record at KEYS[1] to
// KEYS[2] (store key ARGV[4]) applying the delta, and leaves a tombstone at
// KEYS[1]. ARGV[5]: the tombstone's deadline ("" for none); ARGV[6]: n;
// ARGV[7...]: n tombstone field/value items; then the delta. Returns 1,
// 0 when KEYS[1] holds no live record, 2 when KEYS[2] is taken.
var renewScript = redis.NewScript(lib + `
local old, new = KEYS[1], KEYS[2]
local state, f = inspect(old)
if state ~= 'live' then
  if state == 'expired' then redis.call('DEL', old) end
  return 0
end
state = inspect(new)
if state == 'live' or state == 'tomb' then return 2 end
redis.call('RENAME', old, new)
local ntomb = tonumber(ARGV[6])
local alive, user = apply_delta(new, 7 + ntomb, f)
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
