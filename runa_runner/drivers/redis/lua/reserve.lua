-- reserve.lua: recover lapsed leases, then reserve up to n due jobs, oldest due first.
-- uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] n   ARGV[2] lease (s)   ARGV[3] token prefix (the i-th job's token is prefix..i)
-- ARGV[4] error stored on a job whose lease lapsed on its last attempt
-- returns: {lease_until, then 5 values per job: id, envelope JSON, attempt, enq, avail}
-- Each job: attempt + 1, fresh token, lease; its unique lock is dropped when unique_until=start.
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[4])
local lease_until = fmt(now + tonumber(ARGV[2]))
local out = {lease_until}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', 0, tonumber(ARGV[1]))
for i, id in ipairs(ids) do
  local jk = KEYS[4] .. id
  local v = redis.call('HMGET', jk, 'env', 'enq', 'avail', 'uu')
  if v[1] then
    local attempt = redis.call('HINCRBY', jk, 'attempt', 1)
    redis.call('HSET', jk, 'state', 'reserved', 'token', ARGV[3] .. i, 'lease', lease_until)
    if v[4] == 'start' then
      drop_lock(jk, id)
    end
    redis.call('ZADD', KEYS[2], lease_until, id)
    out[#out + 1] = id
    out[#out + 1] = v[1]
    out[#out + 1] = attempt
    out[#out + 1] = v[2]
    out[#out + 1] = v[3]
  else
    out[#out + 1] = id
    out[#out + 1] = false
    out[#out + 1] = 0
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
end
return out
