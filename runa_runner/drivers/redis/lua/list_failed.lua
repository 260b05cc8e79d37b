-- list_failed.lua: a page of failed jobs, oldest failure first (ties by id).
-- KEYS[1] {q}:failed   KEYS[2] {q}:job:
-- ARGV[1] offset   ARGV[2] limit
-- returns: 8 values per job: id, envelope JSON, attempt, enq, avail, err, tb, fat
local first = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[2]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', KEYS[2] .. id, 'env', 'attempt', 'enq', 'avail', 'err', 'tb', 'fat')
  if v[1] then
    out[#out + 1] = id
    for j = 1, 7 do
      out[#out + 1] = v[j]
    end
  end
end
return out
