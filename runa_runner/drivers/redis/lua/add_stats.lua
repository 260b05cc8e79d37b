-- add_stats.lua: add a worker pool's outcome counters (all processes add to one hash).
-- KEYS[1] {w}:stats
-- ARGV[1] succeeded   ARGV[2] failed   ARGV[3] retried
-- returns: 1. One script, so the three counters always move together.
local names = {'succeeded', 'failed', 'retried'}
for i = 1, 3 do
  local n = tonumber(ARGV[i])
  if n ~= 0 then
    redis.call('HINCRBY', KEYS[1], names[i], n)
  end
end
return 1
