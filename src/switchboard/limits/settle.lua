-- A request ended: for each of its subjects (its key, then its key's team), count the tokens it
-- used instead of those it reserved, free its slot and its budget reservation, and add what it
-- cost to the period's spend. One script: the key and the team are settled together.
-- (Negations are written 0 - x: Lua prints -0 as "-0", which HINCRBY rejects.)
-- KEYS: as acquire.lua. ARGV: 1 id, 2 tokens used, 3 cost in nano-USD, then per subject n, the
-- number of its kinds of Reservation.more, and per kind 1 if it settles (it counts tokens: its
-- amount becomes those used), else 0.
local rid = ARGV[1]
local a, k = 4, 1
while a <= #ARGV do
  local nmore = tonumber(ARGV[a])
  local old = redis.call('HGET', KEYS[k + 1], rid)
  if old then
    redis.call('HSET', KEYS[k + 1], rid, ARGV[2])
    redis.call('HINCRBY', KEYS[k + 1], '_sum', tonumber(ARGV[2]) - tonumber(old))
  end
  local r = redis.call('HGET', KEYS[k + 3], rid)
  if r then
    redis.call('HDEL', KEYS[k + 3], rid)
    redis.call('HINCRBY', KEYS[k + 3], '_sum', 0 - tonumber(r))
  end
  redis.call('ZREM', KEYS[k + 2], rid)
  if tonumber(ARGV[3]) > 0 and redis.call('EXISTS', KEYS[k + 4]) == 1 then
    redis.call('INCRBY', KEYS[k + 4], ARGV[3])
  end
  for i = 1, nmore do
    if ARGV[a + i] == '1' then
      local h = KEYS[k + 4 + 2 * i]
      local held = redis.call('HGET', h, rid)
      if held then
        redis.call('HSET', h, rid, ARGV[2])
        redis.call('HINCRBY', h, '_sum', tonumber(ARGV[2]) - tonumber(held))
      end
    end
  end
  a = a + 1 + nmore
  k = k + 5 + 2 * nmore
end
return 1
