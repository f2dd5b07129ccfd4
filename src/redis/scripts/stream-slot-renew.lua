--[[
  Renews the leases of the slots one replica holds in one session's set, in one step. A lease that has
  already run out is not renewed, even if no acquire has dropped it yet: once expired, its slot may
  have been counted free, so its holder has lost it.

  KEYS[1] the session's slots (see stream-slot-acquire.lua)
  ARGV[1] lease in milliseconds, counted from now
  ARGV[2], ARGV[3], ... the ids of the slots to renew

  Returns the ids that were lost: expired (they are removed) or no longer in the set.
]]
local key = KEYS[1]

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expires = now + tonumber(ARGV[1])

local lost = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', key, ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', key, 'XX', expires, ARGV[i])
  else
    if score then
      redis.call('ZREM', key, ARGV[i])
    end
    lost[#lost + 1] = ARGV[i]
  end
end
local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if latest[2] then
  redis.call('PEXPIREAT', key, latest[2])
end
return lost
