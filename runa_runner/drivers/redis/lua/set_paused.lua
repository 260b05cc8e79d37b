-- set_paused.lua: pause or resume a queue; a resume wakes idle workers as a push does.
-- uses _lib.lua
-- KEYS[1] {q}:paused   KEYS[2] {q}:signal
-- ARGV[1] '1' pause, '0' resume   ARGV[2] the time to store (informational)
-- returns: 1 when the queue was paused before, else 0.
local was = redis.call('EXISTS', KEYS[1])
if ARGV[1] == '1' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
  signal(KEYS[2], 8)
end
return was
