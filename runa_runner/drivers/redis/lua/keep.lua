-- keep.lua: a held job succeeded and its result is kept (result_ttl > 0). uses _lib.lua
-- KEYS[1] {q}:reserved   KEYS[2] {q}:job:   KEYS[3] {q}:result:   KEYS[4] {q}:done:
-- ARGV[1] job id   ARGV[2] token   ARGV[3] result_ttl (ms)   ARGV[4] result JSON
-- returns: 1 when the token still held the lease (the job acked and kept), else 0.
-- The job hash goes as in ack.lua; {q}:result:<id> (env, attempt, res, fin) and
-- {q}:done:<id> (a one-token list that wakes registry.result's BRPOPLPUSH) live for
-- result_ttl: Redis expires them, so a kept result needs no cleanup.
local now = clock()
local id = ARGV[1]
local jk = KEYS[2] .. id
if not held(jk, ARGV[2], now) then
  return 0
end
local v = fields(jk, 'env', 'attempt')
local ttl = finite(ARGV[3], 315360000000)
if not v or not v[1] or not ttl or ttl < 1 then
  return 0  -- nothing written: the caller's ack fails like a lost lease would
end
drop_lock(jk, id)
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
local rk = KEYS[3] .. id
redis.call('DEL', rk)
redis.call('HSET', rk, 'env', v[1], 'attempt', v[2] or '0', 'res', ARGV[4], 'fin', fmt(now))
redis.call('PEXPIRE', rk, ARGV[3])
local dk = KEYS[4] .. id
redis.call('DEL', dk)
redis.call('RPUSH', dk, '1')
redis.call('PEXPIRE', dk, ARGV[3])
return 1
