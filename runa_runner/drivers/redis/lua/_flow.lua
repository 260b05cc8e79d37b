-- _flow.lua: pause and flow control (drivers/flow.py) for the scripts whose header says
-- "uses _flow.lua"; scripts.py prepends it after _lib.lua.
--
-- {q}:paused  STRING  exists while the queue is paused (its value is not read)
-- {q}:starts  ZSET    one member per start of a queue with a rate -> its time; members
--                     at or before now - window have left the sliding window

-- A limit argument as a number, or nil for none ('0' or anything not a number > 0).
local function flow_limit(s)
  local n = tonumber(s)
  if not n or n ~= n or n <= 0 then
    return nil
  end
  return n
end

-- Jobs holding a live lease: the slots of max_running.
local function flow_running(reserved, now)
  return redis.call('ZCOUNT', reserved, '(' .. fmt(now), '+inf')
end

-- Starts inside the window (older ones dropped) and the oldest of them (false if none).
-- A key of another type (not ours) is replaced: a start log is no record worth keeping.
local function flow_started(starts, now, window)
  local t = redis.call('TYPE', starts).ok
  if t ~= 'zset' and t ~= 'none' then
    redis.call('DEL', starts)
  end
  redis.call('ZREMRANGEBYSCORE', starts, '-inf', fmt(now - window))
  local first = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')
  return redis.call('ZCARD', starts), first[2] or false
end

-- How many of n jobs may start now under max_running and the rate (0 while paused).
local function flow_allowance(n, paused, reserved, starts, now, max_running, rate, window)
  if redis.call('EXISTS', paused) == 1 then
    return 0
  end
  max_running, rate = flow_limit(max_running), flow_limit(rate)
  if max_running then
    n = math.min(n, max_running - flow_running(reserved, now))
  end
  if rate then
    n = math.min(n, rate - flow_started(starts, now, tonumber(window)))
  end
  return n
end
