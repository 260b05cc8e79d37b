-- renew.lua: extend a held lease. uses _lib.lua
-- KEYS[1] {q}:reserved   KEYS[2] {q}:job:
-- ARGV[1] job id   ARGV[2] token   ARGV[3] lease (s)
-- returns: 1 when the token still held the lease (now extended), else 0; 2 when it held
-- and cancel.lua asked this run (field cx = its token) to stop.
local now = clock()
local jk = KEYS[2] .. ARGV[1]
if not held(jk, ARGV[2], now) then
  return 0
end
local lease_until = fmt(now + tonumber(ARGV[3]))
redis.call('HSET', jk, 'lease', lease_until)
redis.call('ZADD', KEYS[1], lease_until, ARGV[1])
if redis.call('HGET', jk, 'cx') == ARGV[2] then
  return 2
end
return 1
