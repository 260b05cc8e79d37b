-- list_jobs.lua: one state's jobs, newest first ((score, id) descending), after a cursor.
-- uses _lib.lua
-- KEYS[1] the state's ZSET: {q}:ready (pending, delayed) or {q}:failed   KEYS[2] {q}:job:
-- ARGV[1] pending|delayed|failed   ARGV[2] limit
-- ARGV[3] cursor: the previous page's last id, '' for the first page
-- ARGV[4] the time the cursor's id was made (where to go on when it left the state)
-- returns: 8 values per job: id, envelope JSON, attempt, enq, avail, err, tb, fat.
-- Every listed id is returned, a corrupt record's too (fields it lacks are false), so a
-- page never hides one; records.py decodes each on its own.
-- Cost: O(log N + limit): a rank or score range, never a scan of the set.
local now = clock()
local limit = tonumber(ARGV[2])
local state = ARGV[1]
local hi, lo = '+inf', '-inf'  -- the state's score window
if state == 'pending' then
  hi = fmt(now)
elseif state == 'delayed' then
  lo = '(' .. fmt(now)
end

local ids = {}
local score = ARGV[3] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[3])
if score and (state ~= 'pending' or tonumber(score) <= now) then
  -- Equal scores sort by member, so the ranks after the cursor are exactly what follows it.
  local rank = redis.call('ZREVRANK', KEYS[1], ARGV[3])
  local rows = redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + limit, 'WITHSCORES')
  for i = 1, #rows, 2 do
    if state == 'delayed' and tonumber(rows[i + 1]) <= now then
      break  -- due now: the rest are pending
    end
    ids[#ids + 1] = rows[i]
  end
else
  if ARGV[3] ~= '' then
    local made = tonumber(ARGV[4])
    if state ~= 'pending' or made <= now then
      hi = '(' .. fmt(made)
    end
  end
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], hi, lo, 'LIMIT', 0, limit)
end

local out = {}
for _, id in ipairs(ids) do
  local v = fields(KEYS[2] .. id, 'env', 'attempt', 'enq', 'avail', 'err', 'tb', 'fat')
  if not v then
    v = {false, false, false, false, CORRUPT .. 'job key holds no hash', false, false}
  end
  out[#out + 1] = id
  for j = 1, 7 do
    out[#out + 1] = v[j]
  end
end
return out
