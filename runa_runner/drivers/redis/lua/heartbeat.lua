-- heartbeat.lua: mark a worker instance alive until now + ttl; drop dead ones. uses _lib.lua
-- KEYS[1] {w}:instances (ZSET instance -> expiry)
-- ARGV[1] instance   ARGV[2] ttl (s)
-- returns: 1. The key itself expires when no instance heartbeats any more.
local now = clock()
redis.call('ZADD', KEYS[1], fmt(now + tonumber(ARGV[2])), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now))
local ms = math.ceil(tonumber(ARGV[2]) * 1000)
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('PEXPIRE', KEYS[1], ms)
end
return 1
