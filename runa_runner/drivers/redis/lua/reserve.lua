-- reserve.lua: recover lapsed leases, then reserve up to n due jobs, oldest due first.
-- uses _lib.lua, _flow.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- KEYS[5] {q}:paused   KEYS[6] {q}:starts
-- ARGV[1] n   ARGV[2] lease (s)   ARGV[3] token prefix (the i-th due job's token is prefix..i)
-- ARGV[4] error stored on a job whose lease lapsed on its last attempt
-- ARGV[5] max_running (0: none)   ARGV[6] rate: starts per window (0: none)
-- ARGV[7] the rate's window (s)
-- Nothing is reserved while the queue is paused; with limits, no more than they allow
-- (each start of a rated queue is logged in {q}:starts, in this same step).
-- returns: {lease_until, {id, error, ...} of the jobs moved to failed as corrupt records,
--           then 6 values per reserved job: id, token, envelope JSON, attempt, enq, avail}
-- Each job: attempt + 1, fresh token, lease; its unique lock is dropped when unique_until=start.
-- A job hash whose fields cannot be used (see defect() in _lib.lua) goes to failed in
-- this same step, with an error naming the defect; the others are reserved as usual.
-- An id whose key is gone is dropped (nothing is stored to keep); a job whose hash says
-- failed while it is due leaves the failed store, so it is listed in one set only.
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[4])
local lease_until = fmt(now + tonumber(ARGV[2]))
local corrupt = {}
local out = {lease_until, corrupt}
local n = flow_allowance(tonumber(ARGV[1]), KEYS[5], KEYS[2], KEYS[6], now, ARGV[5], ARGV[6],
                         ARGV[7])
if n <= 0 then
  return out
end
local rated = flow_limit(ARGV[6])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', 0, n)
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
end
for i, id in ipairs(ids) do
  local jk = KEYS[4] .. id
  local v = fields(jk, 'env', 'attempt', 'max', 'enq', 'avail', 'uu', 'state')
  local bad = defect(v)
  if bad == "field 'env' is missing" and redis.call('EXISTS', jk) == 0 then
    bad = false  -- a ready entry without its hash (never written by us): nothing to keep
  elseif bad then
    local err = CORRUPT .. bad
    to_failed(jk, id, KEYS[3], err, '', now)
    corrupt[#corrupt + 1] = id
    corrupt[#corrupt + 1] = err
  else
    local token = ARGV[3] .. i
    local attempt = redis.call('HINCRBY', jk, 'attempt', 1)
    redis.call('HSET', jk, 'state', 'reserved', 'token', token, 'lease', lease_until)
    if v[6] == 'start' then
      drop_lock(jk, id)
    end
    if v[7] == 'failed' then  -- also listed as failed (left so by an older version)
      redis.call('ZREM', KEYS[3], id)
    end
    redis.call('ZADD', KEYS[2], lease_until, id)
    if rated then
      redis.call('ZADD', KEYS[6], fmt(now), token)
    end
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = v[1]
    out[#out + 1] = attempt
    out[#out + 1] = v[4]
    out[#out + 1] = v[5]
  end
end
if rated then
  redis.call('PEXPIRE', KEYS[6], math.ceil(tonumber(ARGV[7]) * 1000) + 1000)
end
return out
