-- get.lua: one job as stored (after recovering lapsed leases). uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] job id   ARGV[2] error stored on a job whose lease lapsed on its last attempt
-- returns: nil when unknown, else {now, state, envelope JSON, attempt, enq, avail, err, tb, fat}
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[2])
local v = redis.call('HMGET', KEYS[4] .. ARGV[1],
  'state', 'env', 'attempt', 'enq', 'avail', 'err', 'tb', 'fat')
if not v[2] then
  return nil
end
table.insert(v, 1, fmt(now))
return v
