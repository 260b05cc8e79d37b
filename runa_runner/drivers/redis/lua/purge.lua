-- purge.lua: delete up to a batch of jobs of the queue, in any state, with their locks.
-- uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:signal
-- KEYS[5] {q}:job:
-- ARGV[1] batch size
-- returns: how many were deleted (fewer than the batch: the queue is empty, its signal
-- list is dropped too).
local left = tonumber(ARGV[1])
local n = 0
for z = 1, 3 do
  if left > 0 then
    local ids = redis.call('ZRANGE', KEYS[z], 0, left - 1)
    for _, id in ipairs(ids) do
      local jk = KEYS[5] .. id
      drop_lock(jk, id)
      redis.call('DEL', jk)
    end
    if #ids > 0 then
      redis.call('ZREM', KEYS[z], unpack(ids))
    end
    n = n + #ids
    left = left - #ids
  end
end
if left > 0 then
  redis.call('DEL', KEYS[4])
end
return n
