-- delete.lua: delete a pending, delayed or failed job and its unique lock. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:failed   KEYS[3] {q}:job:
-- ARGV[1] job id
-- returns: 1 when deleted, 0 when unknown or reserved (a running job is not pulled away).
local id = ARGV[1]
local jk = KEYS[3] .. id
local state = redis.call('HGET', jk, 'state')
if not state or state == 'reserved' then
  return 0
end
drop_lock(jk, id)
redis.call('DEL', jk)
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
return 1
