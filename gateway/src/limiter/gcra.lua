-- GCRA, atomically in Redis, on Redis' own clock (microseconds): policy::limit::gcra, asking
-- for up to `want` admissions at once (a lease; 1 in strict mode).
-- KEYS[1]: the limit's key. ARGV: interval, tolerance (both µs), want, least (grant nothing
-- unless at least this many fit: a lease is worth a round trip only when it is whole).
-- Returns {granted, remaining, reset_after, retry_after} (µs).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local least = tonumber(ARGV[4] or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local capacity = tolerance + interval
local room = math.floor((capacity - (tat - now)) / interval)
local granted = math.min(want, math.max(room, 0))
if granted < least then granted = 0 end
if granted > 0 then
  tat = tat + granted * interval
  -- The key outlives its state by a second, then expires.
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local ahead = tat - now
local retry = 0
if granted == 0 then retry = tat + least * interval - capacity - now end
return {granted, math.max(math.floor((capacity - ahead) / interval), 0), ahead, retry}
