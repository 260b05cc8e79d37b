-- delete.lua: delete a pending, delayed or failed job and its unique lock. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:failed   KEYS[3] {q}:job:
-- ARGV[1] job id
-- returns: 1 when deleted, 0 when unknown or reserved (a running job is not pulled away).
-- A corrupt record (its key no hash, or gone while still listed) is deleted all the same.
local id = ARGV[1]
local jk = KEYS[3] .. id
local state = redis.pcall('HGET', jk, 'state')
if state == 'reserved' then
  return 0
end
local listed = redis.call('ZSCORE', KEYS[1], id) or redis.call('ZSCORE', KEYS[2], id)
if not listed and redis.call('EXISTS', jk) == 0 then
  return 0
end
drop_lock(jk, id)
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
return 1
