-- fail.lua: a held job failed for good: move it to the failed store. uses _lib.lua
-- KEYS[1] {q}:reserved   KEYS[2] {q}:failed   KEYS[3] {q}:job:
-- ARGV[1] job id   ARGV[2] token   ARGV[3] error   ARGV[4] traceback ('' = none)
-- returns: 1 when the token still held the lease, else 0 (nothing changed).
local now = clock()
local jk = KEYS[3] .. ARGV[1]
if not held(jk, ARGV[2], now) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
to_failed(jk, ARGV[1], KEYS[2], ARGV[3], ARGV[4], now)
return 1
