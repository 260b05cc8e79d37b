-- slot_state.lua: a schedule's stored state. uses _lib.lua
-- KEYS[1] {q}:schedule:<name> (HASH watermark, fired, job)
-- ARGV: none
-- returns: {watermark, fired, job}, each nil when absent; {"corrupt", why} when the key
-- holds something other than a hash (the values themselves are checked by the caller)
local v = fields(KEYS[1], 'watermark', 'fired', 'job')
if not v then
  return {'corrupt', 'the schedule key holds no hash'}
end
return v
