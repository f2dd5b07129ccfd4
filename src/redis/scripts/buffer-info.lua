--[[
  A buffer's length and the ids at both ends, in one round trip.

  KEYS[1] the buffer's stream

  Returns { length, firstId, lastId }, or false when the buffer does not exist.
]]
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not first then return false end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
return { redis.call('XLEN', KEYS[1]), first[1], last[1] }
