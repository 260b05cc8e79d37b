-- worker_counts.lua: a worker pool's counters and live instances. uses _lib.lua
-- KEYS[1] {w}:stats (HASH succeeded/failed/retried)   KEYS[2] {w}:instances
-- returns: {succeeded, failed, retried, live instances}
local now = clock()
local v = redis.call('HMGET', KEYS[1], 'succeeded', 'failed', 'retried')
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now))
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, redis.call('ZCARD', KEYS[2])}
