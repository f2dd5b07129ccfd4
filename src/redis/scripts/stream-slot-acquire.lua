--[[
  Takes one of a session's SSE stream slots if one is free, in one atomic step on Redis's clock, so the
  bound holds across replicas. A slot is a lease: a replica renews the leases it holds (see
  stream-slot-renew.lua), and one that crashed stops renewing, so its slots free themselves when their
  leases run out. Expired leases are dropped first.

  KEYS[1] the session's slots: a sorted set of slot ids, each scored with its lease's expiry (ms, Redis's clock)
  ARGV[1] the new slot's id, unique (never reused)
  ARGV[2] the most slots the session may hold at once
  ARGV[3] lease in milliseconds

  Returns 1 when the slot is taken, 0 when every slot is taken by an unexpired lease. The set expires
  with its latest lease, so a session whose holders all vanished leaves nothing behind.
]]
local key = KEYS[1]
local max = tonumber(ARGV[2])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= max then
  return 0
end
redis.call('ZADD', key, now + tonumber(ARGV[3]), ARGV[1])
local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, latest[2])
return 1
