-- One admission, atomically. Mirrors memory.py's MemoryLimiter.acquire line for line.
-- KEYS: 1 window zset (id -> start ms), 2 tokens hash (id -> tokens, _sum),
--       3 live zset (id -> lease end ms), 4 reserved hash (id -> nano-USD, _sum),
--       5 spent string (nano-USD settled in the budget period)
-- ARGV: 1 id, 2 now ms, 3 rpm, 4 tpm, 5 max concurrent, 6 tokens, 7 budget, 8 cost,
--       9 seed (-1: unknown), 10 lease ms, 11 spent ttl s (0: keep), 12 window ms
-- Then per kind of Reservation.more (limit_kinds.py, any number): KEYS a window zset
-- (id -> start ms) and an amounts hash (id -> amount, _sum); ARGV its limit, its window ms and
-- 1 if it counts tokens (0: requests). A refusal for one returns 'limit', then its index, used.
local rid = ARGV[1]
local now = tonumber(ARGV[2])
local rpm, tpm, maxc = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local tokens, budget, cost = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local seed, lease, ttl, window = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
if #expired > 0 then
  local freed = 0
  for _, m in ipairs(expired) do
    local v = redis.call('HGET', KEYS[2], m)
    if v then freed = freed + tonumber(v); redis.call('HDEL', KEYS[2], m) end
    redis.call('ZREM', KEYS[1], m)
  end
  if freed ~= 0 then redis.call('HINCRBY', KEYS[2], '_sum', 0 - freed) end
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, m in ipairs(dead) do
  local v = redis.call('HGET', KEYS[4], m)
  if v then redis.call('HINCRBY', KEYS[4], '_sum', 0 - tonumber(v)); redis.call('HDEL', KEYS[4], m) end
  redis.call('ZREM', KEYS[3], m)
end

local count = redis.call('ZCARD', KEYS[1])
local tsum = tonumber(redis.call('HGET', KEYS[2], '_sum') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[4], '_sum') or '0')
local oldest = now
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first > 0 then oldest = tonumber(first[2]) end

local function refuse(verdict, retry, spent)
  return {verdict, count, tsum, oldest, retry, spent, reserved}
end

if maxc > 0 and redis.call('ZCARD', KEYS[3]) >= maxc then return refuse('concurrency', 1000, 0) end
if rpm > 0 and count >= rpm then return refuse('rpm', oldest + window - now, 0) end
if tpm > 0 and tsum + tokens > tpm then
  if tokens > tpm then return refuse('tpm', -1, 0) end
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local freed = 0
  for i = 1, #entries, 2 do
    freed = freed + tonumber(redis.call('HGET', KEYS[2], entries[i]) or '0')
    if tsum - freed + tokens <= tpm then
      return refuse('tpm', tonumber(entries[i + 1]) + window - now, 0)
    end
  end
  return refuse('tpm', window, 0)
end
local nmore = (#ARGV - 12) / 3
local amounts = {}
for i = 1, nmore do
  local z, h = KEYS[4 + 2 * i], KEYS[5 + 2 * i]
  local limit, w = tonumber(ARGV[10 + 3 * i]), tonumber(ARGV[11 + 3 * i])
  local amount = 1
  if ARGV[12 + 3 * i] == '1' then amount = tokens end
  amounts[i] = amount
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now - w)
  if #gone > 0 then
    local freed = 0
    for _, m in ipairs(gone) do
      local v = redis.call('HGET', h, m)
      if v then freed = freed + tonumber(v); redis.call('HDEL', h, m) end
      redis.call('ZREM', z, m)
    end
    if freed ~= 0 then redis.call('HINCRBY', h, '_sum', 0 - freed) end
  end
  local used = tonumber(redis.call('HGET', h, '_sum') or '0')
  if used + amount > limit then
    local retry = w
    if amount > limit then
      retry = -1
    else
      local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
      local freed = 0
      for j = 1, #entries, 2 do
        freed = freed + tonumber(redis.call('HGET', h, entries[j]) or '0')
        if used - freed + amount <= limit then retry = tonumber(entries[j + 1]) + w - now; break end
      end
    end
    return {'limit', count, tsum, oldest, retry, 0, reserved, i, used}
  end
end
local spent = 0
if budget > 0 then
  local s = redis.call('GET', KEYS[5])
  if not s then
    if seed < 0 then return refuse('seed', 0, 0) end
    if ttl > 0 then redis.call('SET', KEYS[5], ARGV[9], 'EX', ttl) else redis.call('SET', KEYS[5], ARGV[9]) end
    s = ARGV[9]
  end
  spent = tonumber(s)
  if spent + reserved + cost > budget then return refuse('budget', 0, spent) end
end

if rpm > 0 or tpm > 0 then
  redis.call('ZADD', KEYS[1], now, rid)
  redis.call('HSET', KEYS[2], rid, tokens)
  redis.call('HINCRBY', KEYS[2], '_sum', tokens)
  redis.call('PEXPIRE', KEYS[1], window + lease)
  redis.call('PEXPIRE', KEYS[2], window + lease)
  count = count + 1
  tsum = tsum + tokens
  if count == 1 then oldest = now end
end
for i = 1, nmore do
  local z, h, w = KEYS[4 + 2 * i], KEYS[5 + 2 * i], tonumber(ARGV[11 + 3 * i])
  redis.call('ZADD', z, now, rid)
  redis.call('HSET', h, rid, amounts[i])
  redis.call('HINCRBY', h, '_sum', amounts[i])
  redis.call('PEXPIRE', z, w + lease)
  redis.call('PEXPIRE', h, w + lease)
end
if maxc > 0 or budget > 0 then
  redis.call('ZADD', KEYS[3], now + lease, rid)
  redis.call('HSET', KEYS[4], rid, ARGV[8])
  redis.call('HINCRBY', KEYS[4], '_sum', ARGV[8])
  redis.call('PEXPIRE', KEYS[3], lease + window)
  redis.call('PEXPIRE', KEYS[4], lease + window)
  reserved = reserved + cost
end
return {'ok', count, tsum, oldest, 0, spent, reserved}
