-- oldest_due.lua: when the oldest due job became due (queue latency). uses _lib.lua
-- KEYS[1] {q}:ready
-- returns: its available_at as a string, or nil when no job is due
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] and tonumber(first[2]) <= clock() then
  return first[2]
end
return nil
