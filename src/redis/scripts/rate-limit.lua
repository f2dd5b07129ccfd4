--[[
  One attempt against a rate limit, decided in one atomic step on Redis's clock, so the limit is exact
  whatever the number of replicas: GCRA (the generic cell rate algorithm). A subject may make `limit`
  attempts at once, then one more every `period / limit`: its budget refills continuously, and a subject
  that stayed away for a whole period has its full budget back. A refused attempt changes nothing.

  KEYS[1] the limit's state: the theoretical arrival time (TAT) as "<microseconds>:<remainder>", with a TTL
  ARGV[1] limit: attempts per period, a whole number >= 1
  ARGV[2] period in milliseconds (limit x period in microseconds must stay below 2^53: 10^7 a minute is 6e14)
  ARGV[3] '1' to record an allowed attempt, '0' to only ask whether one would be allowed

  Returns {1, 0} when the attempt is allowed, {0, wait} when it is refused: wait is the number of
  milliseconds (at least 1) until an attempt would be allowed.

  The TAT advances by period / limit per attempt, and an attempt is allowed while TAT - now <= period.
  So that a burst of exactly `limit` passes for any limit, the TAT is kept as whole microseconds plus a
  remainder in units of 1/limit microsecond: every number here is an integer well below 2^53, exact in
  Lua's doubles.
]]
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2]) * 1000
local record = ARGV[3] == '1'

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- The TAT is tat + rem / limit microseconds, and never in the past.
local tat, rem = now, 0
local stored = redis.call('GET', key)
if stored then
  local at, r = string.match(stored, '^(%d+):(%d+)$')
  at, r = tonumber(at), tonumber(r)
  if at and at >= now then
    tat, rem = at, r
  end
end

-- period / limit microseconds is `period` units of 1/limit microsecond.
local units = rem + period
local next_rem = units % limit
local next_tat = tat + (units - next_rem) / limit

-- How far past the allowance (TAT - now <= period) this attempt would take the TAT, in units.
local over = (next_tat - now) * limit + next_rem - period * limit
if over > 0 then
  return { 0, math.ceil(over / limit / 1000) }
end
if record then
  -- Once the TAT has passed, the state equals no state: let it expire then.
  local ttl = math.ceil(((next_tat - now) * limit + next_rem) / limit / 1000)
  redis.call('SET', key, string.format('%.0f:%.0f', next_tat, next_rem), 'PX', math.max(ttl, 1))
end
return { 1, 0 }
