-- release.lua: a held job goes back to its queue, due after a delay. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:signal   KEYS[4] {q}:job:
-- ARGV[1] job id   ARGV[2] token   ARGV[3] delay (s)   ARGV[4] '1' = give the attempt back
-- ARGV[5] error of the run ('' = none)
-- returns: 1 when the token still held the lease, else 0 (nothing changed).
-- The unique lock stays: the job is waiting for a retry.
local now = clock()
local id = ARGV[1]
local jk = KEYS[4] .. id
if not held(jk, ARGV[2], now) then
  return 0
end
-- An attempt that is not a count is left for reserve.lua to find (it fails the job as a
-- corrupt record): HINCRBY on it would raise here.
local attempt = count(redis.call('HGET', jk, 'attempt'), 0, MAX_ATTEMPTS)
if ARGV[4] == '1' and attempt and attempt > 0 then
  redis.call('HSET', jk, 'attempt', attempt - 1)
end
local avail = fmt(now + tonumber(ARGV[3]))
redis.call('HSET', jk, 'state', 'pending', 'avail', avail)
redis.call('HDEL', jk, 'token', 'lease')
if ARGV[5] ~= '' then
  redis.call('HSET', jk, 'err', ARGV[5])
else
  redis.call('HDEL', jk, 'err')
end
redis.call('ZREM', KEYS[2], id)
redis.call('ZADD', KEYS[1], avail, id)
signal(KEYS[3], 1)
return 1
