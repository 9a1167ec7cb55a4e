-- A request ended: count the tokens it used instead of those it reserved, free its slot and
-- its budget reservation, and add what it cost to the period's spend.
-- (Negations are written 0 - x: Lua prints -0 as "-0", which HINCRBY rejects.)
-- KEYS: as acquire.lua. ARGV: 1 id, 2 tokens used, 3 cost in nano-USD, then per kind of
-- Reservation.more 1 if it settles (it counts tokens: its amount becomes those used), else 0.
local rid = ARGV[1]
local old = redis.call('HGET', KEYS[2], rid)
if old then
  redis.call('HSET', KEYS[2], rid, ARGV[2])
  redis.call('HINCRBY', KEYS[2], '_sum', tonumber(ARGV[2]) - tonumber(old))
end
local r = redis.call('HGET', KEYS[4], rid)
if r then
  redis.call('HDEL', KEYS[4], rid)
  redis.call('HINCRBY', KEYS[4], '_sum', 0 - tonumber(r))
end
redis.call('ZREM', KEYS[3], rid)
if tonumber(ARGV[3]) > 0 and redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('INCRBY', KEYS[5], ARGV[3])
end
for i = 1, #ARGV - 3 do
  if ARGV[3 + i] == '1' then
    local h = KEYS[5 + 2 * i]
    local held = redis.call('HGET', h, rid)
    if held then
      redis.call('HSET', h, rid, ARGV[2])
      redis.call('HINCRBY', h, '_sum', tonumber(ARGV[2]) - tonumber(held))
    end
  end
end
return 1
