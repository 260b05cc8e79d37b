-- slot_state.lua: a schedule's stored state.
-- KEYS[1] {q}:schedule:<name> (HASH watermark, fired, job)
-- ARGV: none
-- returns: {watermark, fired, job}, each nil when absent
return redis.call('HMGET', KEYS[1], 'watermark', 'fired', 'job')
