-- ack.lua: held jobs succeeded: delete each and its unique lock. uses _lib.lua
-- KEYS[1] {q}:reserved   KEYS[2] {q}:job:
-- ARGV: job id, token, job id, token, ... (one pair per job, all of this queue)
-- returns: a list with, per pair, 1 when the token still held the lease, else 0
-- (nothing changed for that job). One call acks a whole batch: one script run per
-- queue and settle instead of one per job.
local now = clock()
local out = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  local jk = KEYS[2] .. id
  if held(jk, ARGV[i + 1], now) then
    drop_lock(jk, id)
    redis.call('DEL', jk)
    redis.call('ZREM', KEYS[1], id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
