-- ack.lua: a held job succeeded: delete it and its unique lock. uses _lib.lua
-- KEYS[1] {q}:reserved   KEYS[2] {q}:job:
-- ARGV[1] job id   ARGV[2] token
-- returns: 1 when the token still held the lease, else 0 (nothing changed).
local now = clock()
local jk = KEYS[2] .. ARGV[1]
if not held(jk, ARGV[2], now) then
  return 0
end
drop_lock(jk, ARGV[1])
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
