package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Every step that reads and then writes, or writes more
// than one key, is one script, so replicas never interleave inside it and
// the AOF records it as one unit. ARGV[1] is always the key prefix: queue
// scripts derive row and index names from keys they only learn inside the
// script (Claim picks its key there), which a single Redis allows; Redis
// Cluster would not (see the package comment).
//
// Queue layout under the prefix P (see the package comment for the rest):
//
//	q:<key>        hash, one per key with a request or a lease (the row)
//	qi:<lane>      pending keys without NotBefore, by (orderAt, seq)
//	qt:<lane>      pending keys with a NotBefore, by (orderAt = NotBefore, seq)
//	ql:<lane>      leased keys by (lease end, seq); lane = min(job lane, dirty request lane)
//	qe             keys with a pending request (also dirty leased ones), by arrival
//	qp             parked keys not leased, by key
//	qlanes         lanes ever used (score = lane)
//	ctr:seq        arrival order counter; ctr:tok fencing token counter
//
// Index members are time(21) .. seq(16) .. key, all sets scored 0, so the
// byte order of members is (time, seq) order and the first member of each
// set is its earliest.

// luaLib is shared by the queue scripts; it mirrors the SQLite store's qrow
// methods so both stores make the same choices.
const luaLib = `
local P = ARGV[1]
local Z = '000000000000000000000'

local function int(n) return string.format('%d', n) end

-- tcmp compares two 21-digit times numerically in two exact halves (Lua's
-- string < follows the server's locale, so it is not used).
local function tcmp(a, b)
  if a == b then return 0 end
  local x, y = tonumber(string.sub(a, 1, 12)), tonumber(string.sub(b, 1, 12))
  if x == y then
    x, y = tonumber(string.sub(a, 13, 21)), tonumber(string.sub(b, 13, 21))
  end
  if x < y then return -1 end
  if x > y then return 1 end
  return 0
end

-- mcmp compares index members by time, then seq.
local function mcmp(a, b)
  local c = tcmp(string.sub(a, 1, 21), string.sub(b, 1, 21))
  if c ~= 0 then return c end
  local x, y = tonumber(string.sub(a, 22, 37)), tonumber(string.sub(b, 22, 37))
  if x < y then return -1 end
  if x > y then return 1 end
  return 0
end

-- earliest: a NotBefore of '' (ready at any now) is earlier than any other.
local function earliest(a, b)
  if a == '' or b == '' then return '' end
  if tcmp(b, a) < 0 then return b end
  return a
end

local function earliestT(a, b)
  if tcmp(b, a) < 0 then return b end
  return a
end

-- earliestArrival ignores unknown ('') arrivals.
local function earliestArrival(a, b)
  if a == '' then return b end
  if b == '' then return a end
  return earliestT(a, b)
end

local function rowkey(k) return P .. 'q:' .. k end

local function load(k)
  local h = redis.call('HGETALL', rowkey(k))
  local r = {req = 0, lane = 0, nb = '', oa = Z, enq = '', seq = 0, att = 0, err = '',
             own = '', tok = 0, lu = Z, jl = 0, je = ''}
  for i = 1, #h, 2 do r[h[i]] = h[i + 1] end
  r.k = k
  r.req, r.lane, r.seq = tonumber(r.req), tonumber(r.lane), tonumber(r.seq)
  r.att, r.tok, r.jl = tonumber(r.att), tonumber(r.tok), tonumber(r.jl)
  return r
end

local function leased(r) return r.own ~= '' end

local function save(r)
  if r.req == 0 and not leased(r) then
    redis.call('DEL', rowkey(r.k))
    return
  end
  redis.call('HSET', rowkey(r.k), 'req', int(r.req), 'lane', int(r.lane), 'nb', r.nb, 'oa', r.oa,
    'enq', r.enq, 'seq', int(r.seq), 'att', int(r.att), 'err', r.err, 'own', r.own,
    'tok', int(r.tok), 'lu', r.lu, 'jl', int(r.jl), 'je', r.je)
end

local function member(t, r) return t .. string.format('%016d', r.seq) .. r.k end

-- index adds (add = true) or removes r's index entries, derived from the
-- row alone: remove before changing a row, add after.
local function index(r, add)
  local function z(key, m)
    if add then redis.call('ZADD', key, 0, m) else redis.call('ZREM', key, m) end
  end
  local function lane(l)
    if add then redis.call('ZADD', P .. 'qlanes', l, int(l)) end
    return int(l)
  end
  if leased(r) then
    -- Claim takes over a lease that ran out, in the better of the job's
    -- lane and a request that arrived during the pass.
    local l = r.jl
    if r.req == 1 and r.lane < l then l = r.lane end
    z(P .. 'ql:' .. lane(l), member(r.lu, r))
  elseif r.req == 1 then
    if r.nb == '' then
      z(P .. 'qi:' .. lane(r.lane), member(r.oa, r))
    else
      z(P .. 'qt:' .. lane(r.lane), member(r.oa, r))
    end
  elseif r.req == 2 then
    z(P .. 'qp', r.k)
  end
  if r.req == 1 then
    local e = r.enq
    if e == '' then e = Z end
    z(P .. 'qe', e .. r.k)
  end
end

-- request folds one request into r: the lowest lane and the earliest times
-- win; a parked key is unparked with a fresh attempt count; a leased key
-- becomes dirty.
local function request(r, lane, nb, oa, arr)
  if r.req == 1 then
    if lane < r.lane then r.lane = lane end
    r.nb = earliest(r.nb, nb)
    r.oa = earliestT(r.oa, oa)
    r.enq = earliestArrival(r.enq, arr)
    return
  end
  if r.req == 2 then r.att = 0 end
  r.seq = redis.call('INCR', P .. 'ctr:seq')
  r.req, r.lane, r.nb, r.oa, r.enq = 1, lane, nb, oa, arr
end

-- lease gives r to owner with a fresh token; taking over a lease that ran
-- out counts the abandoned pass as failed.
local function lease(r, owner, untilT, lane, enq)
  local tok = redis.call('INCR', P .. 'ctr:tok')
  if leased(r) then
    r.att = r.att + 1
    r.err = 'lease of ' .. r.own .. ' expired'
  end
  r.own, r.tok, r.lu, r.jl, r.je = owner, tok, untilT, lane, enq
end

local function release(r)
  r.own, r.lu, r.jl, r.je = '', Z, 0, ''
end

local function job(r)
  return {r.k, int(r.jl), int(r.att), int(r.tok), r.own, r.je, r.err}
end

-- enqueueTasks folds tasks given as 5 ARGV each (key, lane, notBefore,
-- orderAt, arrival) from position i.
local function enqueueTasks(i, n)
  for t = 0, n - 1 do
    local a = i + t * 5
    local r = load(ARGV[a])
    index(r, false)
    request(r, tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
    index(r, true)
    save(r)
  end
end

-- held loads the row of key unless tok is not its current lease.
local function held(k, tok)
  local r = load(k)
  if not leased(r) or r.tok ~= tonumber(tok) then return nil end
  return r
end

local function fenced(k, tok)
  return redis.error_reply('FENCED lease ' .. tok .. ' on ' .. k .. ' is not current')
end

-- requeue ends the pass and asks for another at at (nb: '' when at is the
-- zero time), folded with any request that arrived meanwhile.
local function requeue(r, nb, oa)
  local lane, enq = r.jl, r.je
  release(r)
  if enq == '' then enq = nb end
  if r.req == 2 then r.req = 0 end
  request(r, lane, nb, oa, enq)
end
`

// script builds a queue script on luaLib.
func script(body string) *goredis.Script { return goredis.NewScript(luaLib + body) }

// ARGV: P, n, then n tasks of 5.
var enqueueScript = script(`
enqueueTasks(3, tonumber(ARGV[2]))
return 0
`)

// ARGV: P, owner, now, lease end.
var claimScript = script(`
local owner, now, untilT = ARGV[2], ARGV[3], ARGV[4]
local function first(key) return redis.call('ZRANGE', key, 0, 0)[1] end
local pick
for _, l in ipairs(redis.call('ZRANGE', P .. 'qlanes', 0, -1)) do
  local best = first(P .. 'qi:' .. l)
  for _, set in ipairs({'qt:', 'ql:'}) do
    local m = first(P .. set .. l)
    if m and tcmp(string.sub(m, 1, 21), now) <= 0 and (not best or mcmp(m, best) < 0) then best = m end
  end
  if best then
    pick = string.sub(best, 38)
    break
  end
end
if not pick then return false end
local r = load(pick)
index(r, false)
local lane, enq = r.lane, r.enq
if leased(r) then
  -- The abandoned pass and any request that arrived during it are both
  -- served by this one.
  lane, enq = r.jl, r.je
  if r.req == 1 then
    if r.lane < lane then lane = r.lane end
    enq = earliestArrival(enq, r.enq)
  end
end
if r.req == 1 then r.req = 0 end
lease(r, owner, untilT, lane, enq)
index(r, true)
save(r)
return job(r)
`)

// ARGV: P, key, owner, now, lease end.
var lockScript = script(`
local r = load(ARGV[2])
if leased(r) and tcmp(r.lu, ARGV[4]) > 0 then return false end
index(r, false)
if leased(r) then
  -- The abandoned pass is asked for again, ready now.
  local arrival = r.je
  if arrival == '' then arrival = r.lu end
  request(r, r.jl, '', r.lu, arrival)
end
local lane, enq = 0, ''
if r.req == 1 then lane, enq = r.lane, r.enq end
lease(r, ARGV[3], ARGV[5], lane, enq)
index(r, true)
save(r)
return job(r)
`)

// finishScript wraps the body of a call that needs the current lease:
// ARGV: P, key, token, then the call's own.
func finishScript(body string) *goredis.Script {
	return script(`
local r = held(ARGV[2], ARGV[3])
if not r then return fenced(ARGV[2], ARGV[3]) end
index(r, false)
` + body + `
index(r, true)
save(r)
return 0
`)
}

// ARGV 4: lease end.
var renewScript = finishScript(`r.lu = ARGV[4]`)

var completeScript = finishScript(`
release(r)
if r.req ~= 2 then r.att, r.err = 0, '' end
`)

// ARGV 4, 5, 6: at (empty for the zero time), at, last error.
var retryScript = finishScript(`
local att = r.att + 1
requeue(r, ARGV[4], ARGV[5])
r.att, r.err = att, ARGV[6]
`)

// ARGV 4, 5: at (empty for the zero time), at.
var deferScript = finishScript(`
local att, err = r.att, r.err
requeue(r, ARGV[4], ARGV[5])
r.att, r.err = att, err
`)

// ARGV 4: last error.
var parkScript = finishScript(`
local lane, enq = r.jl, r.je
release(r)
r.att, r.err = r.att + 1, ARGV[4]
if r.req == 1 then
  -- Requested again during the pass: run once more instead.
  if lane < r.lane then r.lane = lane end
  r.enq = earliestArrival(r.enq, enq)
else
  r.req, r.lane, r.enq, r.nb, r.oa = 2, lane, enq, '', Z
end
`)

// ARGV: P, key, now.
var unparkScript = script(`
local r = load(ARGV[2])
if r.req ~= 2 then return 0 end
index(r, false)
local enq = r.enq
if enq == '' then enq = ARGV[3] end
request(r, r.lane, '', ARGV[3], enq)
index(r, true)
save(r)
return 1
`)

// ARGV: P. Returns key, lane, attempt, last error, enqueued per parked key.
var parkedScript = script(`
local out = {}
for _, k in ipairs(redis.call('ZRANGE', P .. 'qp', 0, -1)) do
  local r = load(k)
  out[#out + 1] = {k, int(r.lane), int(r.att), r.err, r.enq}
end
return out
`)

// ARGV: P. Returns the earliest claim time, or nil.
var nextReadyScript = script(`
local best
for _, l in ipairs(redis.call('ZRANGE', P .. 'qlanes', 0, -1)) do
  if redis.call('ZCARD', P .. 'qi:' .. l) > 0 then return Z end
  for _, set in ipairs({'qt:', 'ql:'}) do
    local m = redis.call('ZRANGE', P .. set .. l, 0, 0)[1]
    if m then
      m = string.sub(m, 1, 21)
      if not best or tcmp(m, best) < 0 then best = m end
    end
  end
end
if not best then return false end
return best
`)

// ARGV: P, now + 1ns, intake stream. Members below now+1ns have a time
// <= now. The stream's length counts deliveries not yet moved: ingest
// deletes what it moves.
var statsScript = script(`
local nx = ARGV[2]
local ready, waiting, inflight = 0, 0, 0
for _, l in ipairs(redis.call('ZRANGE', P .. 'qlanes', 0, -1)) do
  ready = ready + redis.call('ZCARD', P .. 'qi:' .. l)
  for _, set in ipairs({'qt:', 'ql:'}) do
    local k = P .. set .. l
    ready = ready + redis.call('ZLEXCOUNT', k, '-', '(' .. nx)
    local later = redis.call('ZLEXCOUNT', k, '[' .. nx, '+')
    if set == 'qt:' then waiting = waiting + later else inflight = inflight + later end
  end
end
local oldest = redis.call('ZRANGE', P .. 'qe', 0, 0)[1] or ''
return {ready, waiting, inflight, redis.call('ZCARD', P .. 'qp'), string.sub(oldest, 1, 21), redis.call('XLEN', ARGV[3])}
`)

// ingestScript moves intake entries into the queue. ARGV: P, stream, group,
// n entries, then per entry: stream id, task count m, m tasks of 5. XACK
// gates each entry: only the call that acks it enqueues its tasks, so a
// second move of the same entry (one consumer crashed after reading it and
// another reclaimed it, or both raced) adds nothing. XDEL keeps the stream
// short; the queue holds the work from here on.
var ingestScript = script(`
local stream, group = ARGV[2], ARGV[3]
local i, moved = 5, 0
for e = 1, tonumber(ARGV[4]) do
  local id, m = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('XACK', stream, group, id) == 1 then
    enqueueTasks(i + 2, m)
    moved = moved + 1
  end
  redis.call('XDEL', stream, id)
  i = i + 2 + m * 5
end
return moved
`)

// acceptScript records a delivery id and queues its tasks on the intake
// stream, or does nothing for an id seen before. KEYS: delivery id key,
// delivery index, intake stream. ARGV: id, received, ttl seconds, task
// count, encoded tasks. Returns 1 for a duplicate.
var acceptScript = goredis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3]) then return 1 end
redis.call('ZADD', KEYS[2], 0, ARGV[2] .. ARGV[1])
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[3], '*', 'd', ARGV[1], 'r', ARGV[2], 't', ARGV[5])
end
return 0
`)

// pruneScript forgets delivery ids received before a time, a bounded batch
// per call. KEYS: delivery index. ARGV: P, exclusive upper bound, batch.
// An id accepted again after its key expired has a second index entry; the
// old entry deletes the key only while it still holds the old time.
var pruneScript = goredis.NewScript(`
local old = redis.call('ZRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(old) do
  local at, id = string.sub(m, 1, 21), string.sub(m, 22)
  local k = ARGV[1] .. 'dlv:' .. id
  if redis.call('GET', k) == at then redis.call('DEL', k) end
  redis.call('ZREM', KEYS[1], m)
end
return #old
`)

// fenceLua fails unless ARGV[1] is the current lease token of the key whose
// row is KEYS[1]. An expired lease nobody took over still holds.
const fenceLua = `
local own, tok = unpack(redis.call('HMGET', KEYS[1], 'own', 'tok'))
if not own or own == '' or tonumber(tok) ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED lease ' .. ARGV[1] .. ' is not current')
end
`

// KEYS: fence row, link hash, link index. ARGV: token, object, record.
var putLinkScript = goredis.NewScript(fenceLua + `
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return 0
`)

// KEYS: fence row, link hash, link index. ARGV: token, object.
var deleteLinkScript = goredis.NewScript(fenceLua + `
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 0
`)

// KEYS: link hash, link index. ARGV: min, max (ZRANGEBYLEX bounds).
// Returns object, record pairs in object order.
var listLinksScript = goredis.NewScript(`
local objs = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2])
if #objs == 0 then return {} end
local out = {}
for _, o in ipairs(objs) do
  local v = redis.call('HGET', KEYS[1], o)
  if v then
    out[#out + 1] = o
    out[#out + 1] = v
  end
end
return out
`)

// putSnapshotScript stores a snapshot unless the stored one has a newer
// Updated; an item that moved to another source moves between source
// indexes. KEYS: snapshot hash. ARGV: P, id, source, kind, hash, data,
// updated, seen. Returns 1 when the stored hash changed.
var putSnapshotScript = goredis.NewScript(luaLib + `
local id, src, hash, upd = ARGV[2], ARGV[3], ARGV[5], ARGV[7]
local old = redis.call('HMGET', KEYS[1], 'src', 'hash', 'upd')
local changed = 1
if old[1] then
  if tcmp(old[3], upd) > 0 then return 0 end
  if old[2] == hash then changed = 0 end
  if old[1] ~= src then redis.call('ZREM', P .. 'snapsrc:' .. old[1], id) end
end
redis.call('HSET', KEYS[1], 'src', src, 'kind', ARGV[4], 'hash', hash, 'data', ARGV[6], 'upd', upd, 'seen', ARGV[8])
redis.call('ZADD', P .. 'snapsrc:' .. src, 0, id)
return changed
`)

// KEYS: snapshot hash. ARGV: P, id. Returns 1 when it existed.
var deleteSnapshotScript = goredis.NewScript(`
local src = redis.call('HGET', KEYS[1], 'src')
if not src then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'snapsrc:' .. src, ARGV[2])
return 1
`)

// KEYS: entries hash, global index, customer index, object index.
// ARGV: P, record. Seq comes from a counter, so it increases across
// replicas.
var appendAuditScript = goredis.NewScript(`
local seq = redis.call('INCR', ARGV[1] .. 'ctr:audit')
local s = string.format('%d', seq)
redis.call('HSET', KEYS[1], s, ARGV[2])
for i = 2, 4 do redis.call('ZADD', KEYS[i], seq, s) end
return seq
`)

// KEYS: entries hash, index. ARGV: upper bound (ZREVRANGEBYSCORE max), count.
// Returns seq, record pairs, newest first.
var auditPageScript = goredis.NewScript(`
local seqs = redis.call('ZREVRANGEBYSCORE', KEYS[2], ARGV[1], '-inf', 'LIMIT', 0, tonumber(ARGV[2]))
if #seqs == 0 then return {} end
local vals = redis.call('HMGET', KEYS[1], unpack(seqs))
local out = {}
for i, s in ipairs(seqs) do
  if vals[i] then
    out[#out + 1] = s
    out[#out + 1] = vals[i]
  end
end
return out
`)
