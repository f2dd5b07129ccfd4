--[[
  Moves a session to a new id (defence against session fixation): the old id stops working in the
  same atomic step in which the new one starts, its streams are told to end, and a session bound to a
  user is indexed under its new id.

  KEYS[1] current session key
  KEYS[2] new session key
  KEYS[3] the revocation stream
  KEYS[4] the user's session index, or absent for a session bound to no user
  ARGV[1] TTL in seconds
  ARGV[2] the current session id, ARGV[3] the new one, ARGV[4] now (ms)

  Returns the stored value (binding line and data), or nil when the session does not exist. Every key
  must live on one node: in Redis Cluster, these would need a shared hash tag.
]]
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 's', ARGV[2])
if KEYS[4] then
  redis.call('ZREM', KEYS[4], ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
end
return value
