-- The vendor's own rule, atomically in Redis, on Redis' clock: at most `limit` calls in any
-- window of `window` ms. KEYS[1]: the API's log (a sorted set of admission times, ms).
-- ARGV: limit, window (ms), a member naming this admission, and the calls kept free for
-- callers (Tiergate's own calls go only while more than that many are free).
-- Returns {1, 0} (admitted, recorded now) or {0, ms until the oldest call leaves the window}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local reserve = tonumber(ARGV[4] or '0')
if redis.call('ZCARD', KEYS[1]) < limit - reserve then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.max(tonumber(oldest[2]) + window - now + 1, 1)}
