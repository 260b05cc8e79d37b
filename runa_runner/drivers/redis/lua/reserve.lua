-- reserve.lua: recover lapsed leases, then reserve up to n due jobs, oldest due first.
-- uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] n   ARGV[2] lease (s)   ARGV[3] token prefix (the i-th due job's token is prefix..i)
-- ARGV[4] error stored on a job whose lease lapsed on its last attempt
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
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[1]))
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
    out[#out + 1] = id
    out[#out + 1] = token
    out[#out + 1] = v[1]
    out[#out + 1] = attempt
    out[#out + 1] = v[4]
    out[#out + 1] = v[5]
  end
end
return out
