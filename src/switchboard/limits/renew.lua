-- A request still running keeps its concurrency slot and budget reservation: its lease ends
-- later. Only a lease that still exists is extended (XX): one settled or expired stays gone.
-- KEYS: 1 live zset (id -> lease end ms), 2 reserved hash
-- ARGV: 1 id, 2 new lease end ms, 3 how long the two keys must live now (lease + window)
local updated = redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[1])
if updated > 0 and redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return updated
