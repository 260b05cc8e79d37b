-- held.lua: what holds a queue's due jobs back, read in one step (flow.hold_of decides).
-- uses _lib.lua, _flow.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:paused   KEYS[4] {q}:starts
-- ARGV[1] the rate's window (s; 0: no rate)
-- returns: nil when no job is due, else {paused 0/1, running, starts in the window,
--          oldest start or '', now} (times as strings).
local now = clock()
if #redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', 0, 1) == 0 then
  return nil
end
local started, oldest = 0, false
local window = tonumber(ARGV[1])
if window and window > 0 then
  started, oldest = flow_started(KEYS[4], now, window)
end
return {redis.call('EXISTS', KEYS[3]), flow_running(KEYS[2], now), started, oldest or '',
        fmt(now)}
