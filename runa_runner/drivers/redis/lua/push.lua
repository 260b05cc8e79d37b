-- push.lua: enqueue a batch of jobs of one queue. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:signal   KEYS[3] {q}:job: (job key prefix)
-- KEYS[4] {q}:unique: (lock key prefix)
-- ARGV[i] one job each: "<envelope JSON>\n<id> <delay s> <attempt> <max attempts>
--         <unique_for ms or -> <unique_until> <unique lock name or nothing>"
--         (JSON never holds a raw newline; the lock name, last, may hold anything)
-- returns: one id per job, the lock holder's id where a unique lock was already held.
-- Lock and job are written in this one script, so a crash cannot leave an orphan lock.
local UNSTAMPED = '"enqueued_at":0.0,"available_at":0.0}'
local now = clock()
local enq = fmt(now)
local out = {}
local pushed = 0
local ready = {}  -- ZADD arguments: one call for the whole batch
for i = 1, #ARGV do
  local a = ARGV[i]
  local nl = string.find(a, '\n', 1, true)
  local id, delay, attempt, max, ufor, uu, lock =
    string.match(a, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (.*)$', nl + 1)
  local holder = false
  local lk = false
  if lock ~= '' then
    lk = KEYS[4] .. lock
    holder = redis.call('GET', lk)
    if not holder then
      if ufor ~= '-' then
        redis.call('SET', lk, id, 'PX', ufor)
      else
        redis.call('SET', lk, id)
      end
    end
  end
  if holder then
    out[i] = holder
  else
    local avail = enq
    if delay ~= '0' then
      avail = fmt(now + tonumber(delay))
    end
    local jk = KEYS[3] .. id
    -- The stored JSON carries the server's times too, in place of the zeros a client
    -- leaves last; the hash fields stay authoritative (a retry moves only `avail`).
    local env = string.sub(a, 1, nl - 1)
    if string.sub(env, -#UNSTAMPED) == UNSTAMPED then
      env = string.sub(env, 1, -#UNSTAMPED - 1) .. '"enqueued_at":' .. enq
        .. ',"available_at":' .. avail .. '}'
    end
    redis.call('HSET', jk, 'env', env, 'attempt', attempt, 'max', max,
      'enq', enq, 'avail', avail, 'state', 'pending')
    if lk then
      redis.call('HSET', jk, 'lock', lk, 'uu', uu)
    end
    ready[#ready + 1] = avail
    ready[#ready + 1] = id
    out[i] = id
    pushed = pushed + 1
  end
end
if pushed > 0 then
  redis.call('ZADD', KEYS[1], unpack(ready))
  signal(KEYS[2], pushed)
end
return out
