-- retry_failed.lua: failed jobs back to pending now, attempts reset to 0. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:failed   KEYS[3] {q}:signal   KEYS[4] {q}:job:
-- ARGV[1] batch size; ARGV[2..] job ids, or none for "the oldest batch-size failed jobs"
-- returns: how many jobs moved (ids not in the failed store are skipped, and so are ids
-- whose key holds no hash: there is nothing to run; `failed delete` removes them).
local now = clock()
local ids
if #ARGV > 1 then
  ids = {unpack(ARGV, 2)}
else
  ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
end
local moved = 0
local t = fmt(now)
for _, id in ipairs(ids) do
  local jk = KEYS[4] .. id
  if redis.call('TYPE', jk).ok == 'hash' and redis.call('ZREM', KEYS[2], id) == 1 then
    redis.call('HSET', jk, 'state', 'pending', 'attempt', 0, 'avail', t)
    redis.call('HDEL', jk, 'fat')
    redis.call('ZADD', KEYS[1], t, id)
    moved = moved + 1
  end
end
if moved > 0 then
  signal(KEYS[3], moved)
end
return moved
