-- push.lua: enqueue a batch of jobs of one queue. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:signal   KEYS[3] {q}:job: (job key prefix)
-- KEYS[4] {q}:unique: (lock key prefix)
-- ARGV[1] n, then 8 values per job: id, envelope JSON, delay (s), attempt, max attempts,
--         unique lock name ('' = none), unique_for (ms, '' = forever), unique_until
-- returns: one id per job, the lock holder's id where a unique lock was already held.
-- Lock and job are written in this one script, so a crash cannot leave an orphan lock.
local now = clock()
local out = {}
local pushed = 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local b = 2 + i * 8
  local id, lock, ufor = ARGV[b], ARGV[b + 5], ARGV[b + 6]
  local holder = false
  local lk = false
  if lock ~= '' then
    lk = KEYS[4] .. lock
    holder = redis.call('GET', lk)
    if not holder then
      if ufor ~= '' then
        redis.call('SET', lk, id, 'PX', ufor)
      else
        redis.call('SET', lk, id)
      end
    end
  end
  if holder then
    out[#out + 1] = holder
  else
    local avail = fmt(now + tonumber(ARGV[b + 2]))
    local jk = KEYS[3] .. id
    redis.call('HSET', jk, 'env', ARGV[b + 1], 'attempt', ARGV[b + 3], 'max', ARGV[b + 4],
      'enq', fmt(now), 'avail', avail, 'state', 'pending')
    if lk then
      redis.call('HSET', jk, 'lock', lk, 'uu', ARGV[b + 7])
    end
    redis.call('ZADD', KEYS[1], avail, id)
    out[#out + 1] = id
    pushed = pushed + 1
  end
end
if pushed > 0 then
  signal(KEYS[2], pushed)
end
return out
