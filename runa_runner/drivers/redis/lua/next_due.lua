-- next_due.lua: seconds until something of the queue may need a worker: the next
-- due job or the next lease to lapse. Read-only. uses _lib.lua
-- KEYS[1] {q}:ready   KEYS[2] {q}:reserved   KEYS[3] {q}:paused (its jobs are not due)
-- returns: seconds as a string (0 when already due), or nil when the queue is empty.
local now = clock()
local soonest = false
local first_set = 1
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 1 then
  first_set = 2
end
for z = first_set, 2 do
  local first = redis.call('ZRANGE', KEYS[z], 0, 0, 'WITHSCORES')
  if first[2] then
    local at = tonumber(first[2])
    if not soonest or at < soonest then
      soonest = at
    end
  end
end
if not soonest then
  return nil
end
if soonest < now then
  soonest = now
end
return fmt(soonest - now)
