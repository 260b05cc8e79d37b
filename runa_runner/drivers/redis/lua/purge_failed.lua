-- purge_failed.lua: delete up to a batch of failed jobs that failed before a time.
-- KEYS[1] {q}:failed   KEYS[2] {q}:job:
-- ARGV[1] max score ('(<epoch>' exclusive, or '+inf' for all)   ARGV[2] batch size
-- returns: how many were deleted (less than the batch size means none are left).
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('DEL', KEYS[2] .. id)
end
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
end
return #ids
