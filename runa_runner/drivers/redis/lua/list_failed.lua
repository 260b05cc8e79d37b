-- list_failed.lua: a page of failed jobs, oldest failure first (ties by id).
-- uses _lib.lua
-- KEYS[1] {q}:failed   KEYS[2] {q}:job:
-- ARGV[1] offset   ARGV[2] limit
-- returns: 8 values per job: id, envelope JSON, attempt, enq, avail, err, tb, fat.
-- Every listed id is returned, a corrupt record's too (fields missing are false; fat
-- falls back to the failed store's score), so it can be seen, retried and deleted.
local first = tonumber(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[2]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  local id = ids[i]
  local v = fields(KEYS[2] .. id, 'env', 'attempt', 'enq', 'avail', 'err', 'tb', 'fat')
  if not v then
    v = {false, false, false, false, CORRUPT .. 'job key holds no hash', false, false}
  elseif not v[1] and not v[5] then
    v[5] = CORRUPT .. "field 'env' is missing"
  end
  out[#out + 1] = id
  for j = 1, 6 do
    out[#out + 1] = v[j]
  end
  out[#out + 1] = v[7] or ids[i + 1]
end
return out
