-- One admission, atomically. Mirrors memory.py's MemoryLimiter.acquire line for line.
-- A request is checked against each of its subjects (its key, then its key's team), and counted
-- against them only if it fits them all: a refusal by the team leaves the key untouched.
-- ARGV: 1 id, 2 now ms, 3 lease ms, 4 window ms, 5 tokens, 6 cost; then one block per subject:
--       rpm, tpm, max concurrent, budget, seed (-1: unknown), spent ttl s (0: keep), and n, the
--       number of its kinds of Reservation.more (limit_kinds.py), then 3 per kind: its limit,
--       its window ms and 1 if it counts tokens (0: requests).
-- KEYS, per subject in the same order: 1 window zset (id -> start ms), 2 tokens hash (id ->
--       tokens, _sum), 3 live zset (id -> lease end ms), 4 reserved hash (id -> nano-USD, _sum),
--       5 spent string (nano-USD settled in the budget period), then per kind a window zset
--       (id -> start ms) and an amounts hash (id -> amount, _sum).
-- Returns {verdict, count, tsum, oldest, retry, spent, reserved, kind index, used, subject}: a
-- 'limit' refusal names the kind by its index among its subject's; subject 2 is the team.
local rid = ARGV[1]
local now, lease, window = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, cost = tonumber(ARGV[5]), tonumber(ARGV[6])

local subjects = {}
local a, k = 7, 1
while a <= #ARGV do
  local s = {
    rpm = tonumber(ARGV[a]), tpm = tonumber(ARGV[a + 1]), maxc = tonumber(ARGV[a + 2]),
    budget = tonumber(ARGV[a + 3]), seed = ARGV[a + 4], ttl = tonumber(ARGV[a + 5]),
    nmore = tonumber(ARGV[a + 6]), k = k, a = a + 7, amounts = {},
  }
  subjects[#subjects + 1] = s
  a = a + 7 + 3 * s.nmore
  k = k + 5 + 2 * s.nmore
end

-- Drop the members of window zset z (and their amounts in hash h) that started before upto.
local function prune(z, h, upto)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', upto)
  if #gone > 0 then
    local freed = 0
    for _, m in ipairs(gone) do
      local v = redis.call('HGET', h, m)
      if v then freed = freed + tonumber(v); redis.call('HDEL', h, m) end
      redis.call('ZREM', z, m)
    end
    if freed ~= 0 then redis.call('HINCRBY', h, '_sum', 0 - freed) end
  end
end

-- nil if the request fits subject s (its counts kept on s), else the refusal.
local function check(index, s)
  local win, tok, live, res, spentkey = KEYS[s.k], KEYS[s.k + 1], KEYS[s.k + 2], KEYS[s.k + 3], KEYS[s.k + 4]
  prune(win, tok, now - window)
  local dead = redis.call('ZRANGEBYSCORE', live, '-inf', now)
  for _, m in ipairs(dead) do
    local v = redis.call('HGET', res, m)
    if v then redis.call('HINCRBY', res, '_sum', 0 - tonumber(v)); redis.call('HDEL', res, m) end
    redis.call('ZREM', live, m)
  end
  local count = redis.call('ZCARD', win)
  local tsum = tonumber(redis.call('HGET', tok, '_sum') or '0')
  local reserved = tonumber(redis.call('HGET', res, '_sum') or '0')
  local oldest = now
  local first = redis.call('ZRANGE', win, 0, 0, 'WITHSCORES')
  if #first > 0 then oldest = tonumber(first[2]) end
  s.count, s.tsum, s.reserved, s.oldest, s.spent = count, tsum, reserved, oldest, 0

  local function refuse(verdict, retry, spent, kind, used)
    return {verdict, count, tsum, oldest, retry, spent, reserved, kind or 0, used or 0, index}
  end

  if s.maxc > 0 and redis.call('ZCARD', live) >= s.maxc then return refuse('concurrency', 1000, 0) end
  if s.rpm > 0 and count >= s.rpm then return refuse('rpm', oldest + window - now, 0) end
  if s.tpm > 0 and tsum + tokens > s.tpm then
    if tokens > s.tpm then return refuse('tpm', -1, 0) end
    local entries = redis.call('ZRANGE', win, 0, -1, 'WITHSCORES')
    local freed = 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(redis.call('HGET', tok, entries[i]) or '0')
      if tsum - freed + tokens <= s.tpm then
        return refuse('tpm', tonumber(entries[i + 1]) + window - now, 0)
      end
    end
    return refuse('tpm', window, 0)
  end
  for i = 1, s.nmore do
    local z, h = KEYS[s.k + 3 + 2 * i], KEYS[s.k + 4 + 2 * i]
    local limit, w = tonumber(ARGV[s.a + 3 * i - 3]), tonumber(ARGV[s.a + 3 * i - 2])
    local amount = 1
    if ARGV[s.a + 3 * i - 1] == '1' then amount = tokens end
    s.amounts[i] = amount
    prune(z, h, now - w)
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
      return refuse('limit', retry, 0, i, used)
    end
  end
  if s.budget > 0 then
    local spent = redis.call('GET', spentkey)
    if not spent then
      if tonumber(s.seed) < 0 then return refuse('seed', 0, 0) end
      if s.ttl > 0 then redis.call('SET', spentkey, s.seed, 'EX', s.ttl) else redis.call('SET', spentkey, s.seed) end
      spent = s.seed
    end
    s.spent = tonumber(spent)
    if s.spent + reserved + cost > s.budget then return refuse('budget', 0, s.spent) end
  end
  return nil
end

-- Count the admitted request against subject s.
local function count(s)
  local win, tok, live, res = KEYS[s.k], KEYS[s.k + 1], KEYS[s.k + 2], KEYS[s.k + 3]
  if s.rpm > 0 or s.tpm > 0 then
    redis.call('ZADD', win, now, rid)
    redis.call('HSET', tok, rid, tokens)
    redis.call('HINCRBY', tok, '_sum', tokens)
    redis.call('PEXPIRE', win, window + lease)
    redis.call('PEXPIRE', tok, window + lease)
    s.count = s.count + 1
    s.tsum = s.tsum + tokens
    if s.count == 1 then s.oldest = now end
  end
  for i = 1, s.nmore do
    local z, h, w = KEYS[s.k + 3 + 2 * i], KEYS[s.k + 4 + 2 * i], tonumber(ARGV[s.a + 3 * i - 2])
    redis.call('ZADD', z, now, rid)
    redis.call('HSET', h, rid, s.amounts[i])
    redis.call('HINCRBY', h, '_sum', s.amounts[i])
    redis.call('PEXPIRE', z, w + lease)
    redis.call('PEXPIRE', h, w + lease)
  end
  if s.maxc > 0 or s.budget > 0 then
    redis.call('ZADD', live, now + lease, rid)
    redis.call('HSET', res, rid, ARGV[6])
    redis.call('HINCRBY', res, '_sum', ARGV[6])
    redis.call('PEXPIRE', live, lease + window)
    redis.call('PEXPIRE', res, lease + window)
    s.reserved = s.reserved + cost
  end
end

for index, s in ipairs(subjects) do
  local refused = check(index, s)
  if refused then return refused end
end
for _, s in ipairs(subjects) do count(s) end
local key = subjects[1]
return {'ok', key.count, key.tsum, key.oldest, 0, key.spent, key.reserved, 0, 0, 1}
