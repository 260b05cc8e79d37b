-- push.lua: enqueue a batch of jobs of one queue. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:signal   KEYS[3] {q}:job: (job key prefix)
-- KEYS[4] {q}:unique: (lock key prefix)
-- ARGV[i] one job each: "<envelope JSON>\n<id> <delay s> <attempt> <max attempts>
--         <unique_for ms or -> <unique_until> <unique lock name or nothing>"
--         (JSON never holds a raw newline; the lock name, last, may hold anything)
-- returns: one id per job, the lock holder's id where a unique lock was already held.
-- A job whose id is already stored is left as it is (whatever its state): its id is
-- returned and nothing is written for it, so running the same push twice is harmless.
-- Every argument is checked before the first write: a malformed one is an error reply
-- naming it, and nothing of the batch is stored.
-- Lock and job are written in this one script, so a crash cannot leave an orphan lock.
local UNSTAMPED = '"enqueued_at":0.0,"available_at":0.0}'
local MAX_DELAY = 315360000          -- limits.MAX_DURATION (10 years), in seconds
local now = clock()
local enq = fmt(now)
local jobs = {}
for i = 1, #ARGV do
  local a = ARGV[i]
  local nl = string.find(a, '\n', 1, true)
  local id, delay, attempt, max, ufor, uu, lock
  if nl then
    id, delay, attempt, max, ufor, uu, lock =
      string.match(a, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (.*)$', nl + 1)
  end
  local bad
  local most = id and count(max, 1, MAX_ATTEMPTS)
  if not id then
    bad = 'expected "<envelope JSON>\\n<id> <delay> <attempt> <max attempts> <unique_for ms or -> <done|start> <lock>"'
  elseif delay ~= '0' and not finite(delay, MAX_DELAY) then
    bad = 'delay must be seconds from 0 to ' .. MAX_DELAY
  elseif not most then
    bad = 'max attempts must be a whole number from 1 to ' .. MAX_ATTEMPTS
  elseif attempt ~= '0' and not count(attempt, 0, most - 1) then
    bad = 'attempt must be a whole number below max attempts'
  elseif ufor ~= '-' and not (#ufor <= 12 and ufor ~= '0' and string.match(ufor, '^%d+$')) then
    bad = 'unique_for must be milliseconds (a whole number above 0) or -'
  elseif uu ~= 'done' and uu ~= 'start' then
    bad = 'unique_until must be done or start'
  elseif nl == 1 then
    bad = 'the envelope JSON is empty'
  end
  if bad then
    return redis.error_reply('push.lua: argument ' .. i .. ': ' .. bad)
  end
  jobs[i] = {string.sub(a, 1, nl - 1), id, delay, attempt, max, ufor, uu, lock}
end
local out = {}
local pushed = 0
local ready = {}  -- ZADD arguments: one call for the whole batch
for i, j in ipairs(jobs) do
  local env, id, delay, attempt, max, ufor, uu, lock = unpack(j)
  local jk = KEYS[3] .. id
  local holder = false
  local lk = false
  if redis.call('EXISTS', jk) == 1 then
    holder = id  -- already stored (a push run twice): the job is not touched
  elseif lock ~= '' then
    lk = KEYS[4] .. lock
    holder = redis.pcall('GET', lk)
    if type(holder) ~= 'string' then
      holder = false
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
    -- The stored JSON carries the server's times too, in place of the zeros a client
    -- leaves last; the hash fields stay authoritative (a retry moves only `avail`).
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
