-- fire.lua: claim a schedule's slot and push its job, in one script. uses _lib.lua
-- KEYS[1] {q}:schedule:<name> (HASH watermark, fired, job)   KEYS[2] {q}:ready
-- KEYS[3] {q}:signal   KEYS[4] {q}:job:   KEYS[5] {q}:reserved   KEYS[6] {q}:failed
-- ARGV[1] slot (epoch seconds)   ARGV[2] "1" to skip while the last fired job is live
-- ARGV[3] error stored on a job whose lease lapsed on its last attempt
-- ARGV[4] the job as one push.lua argument ("<envelope JSON>\n<id> <delay> <attempt>
--         <max attempts> - <unique_until> "), or "" to move the watermark only
-- returns: {outcome, job id or "", previous watermark or ""} with outcome one of
--   fired | skipped | advanced | taken, or {"corrupt", what was stored} (nothing written)
-- Atomicity: the watermark only moves forward and only here, so of any number of
-- schedulers claiming one slot exactly one passes the comparison and pushes.
-- The state is untrusted like every record: checked before the first write.
local v = fields(KEYS[1], 'watermark', 'job')
if not v then
  return {'corrupt', 'the schedule key holds no hash'}
end
local previous = v[1] or ''
if v[1] then
  -- Digits only (as Python's repr writes an epoch): Lua's tonumber also reads hex.
  local mark = string.match(v[1], '^%d+%.?%d*$') and finite(v[1], MAX_EPOCH)
  if not mark then
    return {'corrupt', v[1]}
  end
  if mark >= tonumber(ARGV[1]) then
    return {'taken', '', previous}
  end
end
redis.call('HSET', KEYS[1], 'watermark', ARGV[1])
if ARGV[4] == '' then
  return {'advanced', '', previous}
end
local last = v[2]
if ARGV[2] == '1' and last then
  local now = clock()
  recover(KEYS[2], KEYS[5], KEYS[6], KEYS[4], now, ARGV[3])
  local job = fields(KEYS[4] .. last, 'state')
  local state = job and job[1]
  if state and state ~= 'failed' then
    return {'skipped', last, previous}
  end
end
-- The job, stored as push.lua stores one (schedules never carry a unique key).
local UNSTAMPED = '"enqueued_at":0.0,"available_at":0.0}'
local a = ARGV[4]
local nl = string.find(a, '\n', 1, true)
local id, delay, attempt, max = string.match(a, '^(%S+) (%S+) (%S+) (%S+)', nl + 1)
local now = clock()
local enq = fmt(now)
local avail = enq
if delay ~= '0' then
  avail = fmt(now + tonumber(delay))
end
local env = string.sub(a, 1, nl - 1)
if string.sub(env, -#UNSTAMPED) == UNSTAMPED then
  env = string.sub(env, 1, -#UNSTAMPED - 1) .. '"enqueued_at":' .. enq
    .. ',"available_at":' .. avail .. '}'
end
redis.call('HSET', KEYS[4] .. id, 'env', env, 'attempt', attempt, 'max', max,
  'enq', enq, 'avail', avail, 'state', 'pending')
redis.call('ZADD', KEYS[2], avail, id)
signal(KEYS[3], 1)
redis.call('HSET', KEYS[1], 'fired', ARGV[1], 'job', id)
return {'fired', id, previous}
