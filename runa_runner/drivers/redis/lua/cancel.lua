-- cancel.lua: delete a waiting job, or ask the run holding a reserved one to stop. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] job id   ARGV[2] error stored on a job whose lease lapsed on its last attempt
-- returns: 'deleted', 'requested' (the run's token stored as field cx; renew.lua reports
-- it to that run only), 'failed', or nil when the id is in no state (the caller then
-- looks for a kept result).
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[2])
local id = ARGV[1]
local jk = KEYS[4] .. id
if redis.call('ZSCORE', KEYS[2], id) then
  local token = redis.pcall('HGET', jk, 'token')
  if type(token) ~= 'string' then
    return nil  -- not a job hash we wrote: nothing to ask
  end
  redis.call('HSET', jk, 'cx', token)
  return 'requested'
end
if redis.call('ZSCORE', KEYS[3], id) then
  return 'failed'
end
if not redis.call('ZSCORE', KEYS[1], id) then
  return nil
end
drop_lock(jk, id)
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
return 'deleted'
