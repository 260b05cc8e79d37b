-- _lib.lua: helpers shared by the scripts whose header says "uses _lib.lua".
-- scripts.py prepends this file to them before loading (Redis scripts cannot import).
--
-- Job hash fields ({q}:job:<id>): env (envelope JSON as pushed), attempt, max (max attempts),
-- enq, avail (epoch seconds, server clock), state (pending|reserved|failed; "delayed" is
-- pending with avail in the future), token, lease, err, tb, fat (failed_at), lock (the unique
-- lock's key, while held), uu (unique_until).
-- Invariant: a job id is in exactly one of {q}:ready, {q}:reserved, {q}:failed, matching state.

-- The server's clock: every score comes from here, never from a client.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Scores and times as strings: a Lua number returned to Redis is truncated to an integer.
local function fmt(x)
  return string.format('%.6f', x)
end

-- Drop the job's unique lock if this job still holds it (a lock that ran out of
-- unique_for may already belong to a newer job).
local function drop_lock(jk, id)
  local lock = redis.call('HGET', jk, 'lock')
  if lock then
    if redis.call('GET', lock) == id then
      redis.call('DEL', lock)
    end
    redis.call('HDEL', jk, 'lock')
  end
end

-- True when `token` still holds the job's lease (state, token and time all agree).
local function held(jk, token, now)
  local v = redis.call('HMGET', jk, 'state', 'token', 'lease')
  return v[1] == 'reserved' and v[2] == token and tonumber(v[3]) > now
end

-- Move a job (already removed from its ZSET) to the failed store.
local function to_failed(jk, id, failed, err, tb, now)
  drop_lock(jk, id)
  redis.call('HSET', jk, 'state', 'failed', 'err', err, 'fat', fmt(now))
  redis.call('HDEL', jk, 'token', 'lease')
  if tb and tb ~= '' then
    redis.call('HSET', jk, 'tb', tb)
  else
    redis.call('HDEL', jk, 'tb')
  end
  redis.call('ZADD', failed, fmt(now), id)
end

-- Lapsed leases: back to ready at `now`, or to failed with `lease_lost` when the job
-- already ran its last allowed attempt (so a job that kills its worker cannot loop).
-- Bounded per call; the next reserve takes the rest.
local function recover(ready, reserved, failed, jobp, now, lease_lost)
  local ids = redis.call('ZRANGEBYSCORE', reserved, '-inf', fmt(now), 'LIMIT', 0, 500)
  for _, id in ipairs(ids) do
    local jk = jobp .. id
    redis.call('ZREM', reserved, id)
    local v = redis.call('HMGET', jk, 'attempt', 'max')
    if v[1] then
      if tonumber(v[1]) >= tonumber(v[2]) then
        to_failed(jk, id, failed, lease_lost, '', now)
      else
        redis.call('HSET', jk, 'state', 'pending', 'avail', fmt(now))
        redis.call('HDEL', jk, 'token', 'lease')
        redis.call('ZADD', ready, fmt(now), id)
      end
    end
  end
end

-- Wake idle workers blocked on the signal list; the list is trimmed so stray
-- signals (nobody waiting) stay bounded.
local function signal(sig, n)
  if n > 8 then n = 8 end
  local t = {}
  for i = 1, n do t[i] = '1' end
  -- Trim only past 8 tokens: while workers wait the list stays short (one call, not two).
  if redis.call('LPUSH', sig, unpack(t)) > 8 then
    redis.call('LTRIM', sig, 0, 7)
  end
end
