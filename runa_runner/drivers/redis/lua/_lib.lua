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

-- Stored records are untrusted (another producer, an old version, a hand edit): every
-- value is checked before the first write of a script, so an error never half-applies.
local MAX_ATTEMPTS = 1000001      -- limits.MAX_RETRY + 1
local MAX_EPOCH = 13500000000     -- records._EPOCH_LIMIT: no time we wrote is later
local CORRUPT = 'corrupt record: '

-- `s` as a whole number written in digits within [lo, hi], else nil.
local function count(s, lo, hi)
  if type(s) ~= 'string' or #s > 7 or not string.match(s, '^%d+$') then
    return nil
  end
  local n = tonumber(s)
  if n < lo or n > hi then
    return nil
  end
  return n
end

-- `s` as a finite number within [0, hi], else nil (Lua's tonumber takes "nan", "inf", hex).
local function finite(s, hi)
  local n = type(s) == 'string' and tonumber(s)
  if not n or n ~= n or n < 0 or n > hi then
    return nil
  end
  return n
end

-- The named fields of a job key; nil when the key holds something other than a hash.
local function fields(jk, ...)
  local v = redis.pcall('HMGET', jk, ...)
  if v.err then
    return nil
  end
  return v
end

-- `attempt` and `max` of a job hash as numbers, or nil and what is wrong with them.
local function attempts(a, m)
  local max = count(m, 1, MAX_ATTEMPTS)
  if not max then
    return nil, nil, "field 'max' " .. (m and ('must be a whole number from 1 to '
      .. MAX_ATTEMPTS) or 'is missing')
  end
  local attempt = count(a, 0, MAX_ATTEMPTS)
  if not attempt then
    return nil, nil, "field 'attempt' " .. (a and ('must be a whole number from 0 to '
      .. MAX_ATTEMPTS) or 'is missing')
  end
  return attempt, max, nil
end

-- What is wrong with a stored time, or nil.
local function epoch_defect(name, s)
  if not s then
    return "field '" .. name .. "' is missing"
  elseif not finite(s, MAX_EPOCH) then
    return "field '" .. name .. "' must be epoch seconds"
  end
  return nil
end

-- Why a due job cannot be reserved, or nil. v = env, attempt, max, enq, avail (HMGET order).
local function defect(v)
  if not v then
    return 'job key holds no hash'
  end
  if not v[1] then
    return "field 'env' is missing"
  end
  local attempt, max, bad = attempts(v[2], v[3])
  if bad then
    return bad
  end
  if attempt >= max then
    return "field 'attempt' (" .. attempt .. ") has reached 'max' (" .. max .. ')'
  end
  return epoch_defect('enq', v[4]) or epoch_defect('avail', v[5])
end

-- Drop the job's unique lock if this job still holds it (a lock that ran out of
-- unique_for may already belong to a newer job). Only a key under this queue's lock
-- prefix is touched: a hand-written `lock` field must not delete someone else's key.
local function drop_lock(jk, id)
  local lock = redis.pcall('HGET', jk, 'lock')
  if type(lock) ~= 'string' then
    return
  end
  local jobp = string.sub(jk, 1, #jk - #id)  -- '{tag}:job:' (keys.py)
  local uniquep = string.sub(jobp, 1, -5) .. 'unique:'
  if string.sub(lock, 1, #uniquep) == uniquep and redis.pcall('GET', lock) == id then
    redis.call('DEL', lock)
  end
  redis.call('HDEL', jk, 'lock')
end

-- True when `token` still holds the job's lease (state, token and time all agree).
local function held(jk, token, now)
  local v = fields(jk, 'state', 'token', 'lease')
  if not v then
    return false
  end
  local lease = tonumber(v[3])
  return v[1] == 'reserved' and v[2] == token and lease ~= nil and lease > now
end

-- Move a job (already removed from its ZSET) to the failed store. A key that holds no
-- hash cannot carry the error: its id is listed as failed and the key left as it is.
local function to_failed(jk, id, failed, err, tb, now)
  redis.call('ZADD', failed, fmt(now), id)
  if redis.call('TYPE', jk).ok ~= 'hash' then
    return
  end
  drop_lock(jk, id)
  redis.call('HSET', jk, 'state', 'failed', 'err', err, 'fat', fmt(now))
  redis.call('HDEL', jk, 'token', 'lease')
  if tb and tb ~= '' then
    redis.call('HSET', jk, 'tb', tb)
  else
    redis.call('HDEL', jk, 'tb')
  end
end

-- Lapsed leases: back to ready at `now`, or to failed with `lease_lost` when the job
-- already ran its last allowed attempt (so a job that kills its worker cannot loop), or
-- to failed as a corrupt record when its attempt or max cannot be read. An id whose
-- key is gone has nothing left to keep. Bounded per call; the next reserve takes the rest.
local function recover(ready, reserved, failed, jobp, now, lease_lost)
  local ids = redis.call('ZRANGEBYSCORE', reserved, '-inf', fmt(now), 'LIMIT', 0, 500)
  for _, id in ipairs(ids) do
    local jk = jobp .. id
    redis.call('ZREM', reserved, id)
    if redis.call('EXISTS', jk) == 1 then
      local v = fields(jk, 'attempt', 'max')
      local attempt, max, bad = attempts(v and v[1], v and v[2])
      if not v then
        bad = 'job key holds no hash'
      end
      if bad then
        to_failed(jk, id, failed, CORRUPT .. bad, '', now)
      elseif attempt >= max then
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
