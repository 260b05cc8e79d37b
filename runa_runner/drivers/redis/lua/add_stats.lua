-- add_stats.lua: add a worker pool's outcome counters (all processes add to one hash).
-- KEYS[1] {w}:stats
-- ARGV[1] succeeded   ARGV[2] failed   ARGV[3] retried
-- returns: 1. One script, so the three counters always move together: all are read
-- first, and a counter that is not a whole number (a hand edit) restarts from 0 rather
-- than make HINCRBY fail half-way.
local names = {'succeeded', 'failed', 'retried'}
local v = redis.call('HMGET', KEYS[1], unpack(names))
for i = 1, 3 do
  local n = tonumber(ARGV[i])
  local have = v[i]
  if have and not (string.match(have, '^-?%d+$') and #have <= 18) then
    redis.call('HSET', KEYS[1], names[i], n)
  elseif n ~= 0 then
    redis.call('HINCRBY', KEYS[1], names[i], n)
  end
end
return 1
