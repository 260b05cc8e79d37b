-- get.lua: one job as stored (after recovering lapsed leases). uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] job id   ARGV[2] error stored on a job whose lease lapsed on its last attempt
-- returns: nil when unknown, else {now, state, envelope JSON, attempt, enq, avail, err, tb, fat}
-- Fields may be missing (false) or unreadable on a corrupt record: the caller decodes
-- them. The state is where the id is listed (the hash's own field when it is in no set).
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[2])
local id = ARGV[1]
local jk = KEYS[4] .. id
local listed = false
local states = {'pending', 'reserved', 'failed'}
for z = 1, 3 do
  if not listed and redis.call('ZSCORE', KEYS[z], id) then
    listed = states[z]
  end
end
if not listed and redis.call('EXISTS', jk) == 0 then
  return nil
end
local v = fields(jk, 'state', 'env', 'attempt', 'enq', 'avail', 'err', 'tb', 'fat')
if not v then
  v = {false, false, false, false, false, CORRUPT .. 'job key holds no hash', false, false}
end
v[1] = listed or v[1]
table.insert(v, 1, fmt(now))
return v
