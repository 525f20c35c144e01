-- The vendor's own rule, atomically in Redis, on Redis' clock: at most N calls in any window
-- of W ms, with a fair queue across partners and Tiergate's own calls below every caller.
--
-- KEYS[1]: the log (sorted set: "partner|id" -> admission time, ms)
-- KEYS[2]: calls in the log per partner (hash)
-- KEYS[3]: partners waiting for a turn (sorted set: partner -> when its claim lapses, ms)
-- KEYS[4]: the vendor's last refusal (hash: `hold` until, `halved` at, ms)
-- ARGV: N, W (ms), a member naming this admission, calls kept free (Tiergate's own calls),
--       the partner ("" for Tiergate's own call), ms the caller may still wait, ms the
--       halved window takes to recover.
--
-- A free call goes to the waiting partner that used the fewest in the window (max-min fair):
-- a light caller never queues behind a flood, a heavy one never takes more than its share
-- while others wait, and what nobody waits for is used by whoever asks.
-- Returns {1, calls left} (admitted, recorded now) or {0, ms until it is worth asking again}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local reserve = tonumber(ARGV[4])
local partner = ARGV[5]
local patience = tonumber(ARGV[6])
local recover = tonumber(ARGV[7])
-- A waiter's claim lapses this long after the time it was told to ask again.
local grace = 100

for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)) do
  local p = string.match(m, '^(.*)|[^|]*$')
  if p and redis.call('HINCRBY', KEYS[2], p, -1) <= 0 then
    redis.call('HDEL', KEYS[2], p)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)

local function refuse(wait)
  wait = math.max(wait, 1)
  if partner ~= '' and wait <= patience then
    redis.call('ZADD', KEYS[3], now + wait + grace, partner)
    redis.call('PEXPIRE', KEYS[3], window + 1000)
  end
  return {0, wait}
end

local hold = tonumber(redis.call('HGET', KEYS[4], 'hold') or '0')
if hold > now then
  return refuse(hold - now)
end
local n = limit
local at = tonumber(redis.call('HGET', KEYS[4], 'halved') or '')
if at and now - at < recover then
  n = math.max(1, math.floor(limit - limit / 2 * (recover - (now - at)) / recover))
end

local used = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local next_free = window
if oldest[2] then
  next_free = tonumber(oldest[2]) + window - now + 1
end
local free = n - used
local ahead = 0
local lapse = nil
if partner == '' then
  ahead = reserve + redis.call('ZCARD', KEYS[3])
else
  local mine = tonumber(redis.call('HGET', KEYS[2], partner) or '0')
  local waiting = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  for i = 1, #waiting, 2 do
    local q = waiting[i]
    if q ~= partner and tonumber(redis.call('HGET', KEYS[2], q) or '0') < mine then
      ahead = ahead + 1
      local until_ = tonumber(waiting[i + 1]) - now
      if lapse == nil or until_ < lapse then lapse = until_ end
    end
  end
end
if free > ahead then
  local who = partner
  if who == '' then who = '~tiergate' end
  redis.call('ZADD', KEYS[1], now, who .. '|' .. ARGV[3])
  redis.call('HINCRBY', KEYS[2], who, 1)
  redis.call('ZREM', KEYS[3], partner)
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  redis.call('PEXPIRE', KEYS[2], window + 1000)
  return {1, free - 1}
end
-- Full: until the oldest call leaves. Free but claimed by lighter waiters: until then, or
-- until their claim lapses (a waiter that went away holds nothing for long).
if free > 0 and lapse ~= nil and lapse < next_free then
  return refuse(lapse)
end
return refuse(next_free)
