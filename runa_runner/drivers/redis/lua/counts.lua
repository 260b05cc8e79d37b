-- counts.lua: jobs per state (after recovering lapsed leases). uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:failed   KEYS[4] {q}:job:
-- ARGV[1] error stored on a job whose lease lapsed on its last attempt
-- returns: {pending (due now), delayed (due later), reserved, failed}
local now = clock()
recover(KEYS[1], KEYS[2], KEYS[3], KEYS[4], now, ARGV[1])
local t = fmt(now)
return {
  redis.call('ZCOUNT', KEYS[1], '-inf', t),
  redis.call('ZCOUNT', KEYS[1], '(' .. t, '+inf'),
  redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]),
}
