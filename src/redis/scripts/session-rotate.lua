--[[
  Moves a session to a new id (defence against session fixation): the old id stops working in the
  same atomic step in which the new one starts.

  KEYS[1] current session key
  KEYS[2] new session key
  ARGV[1] TTL in seconds

  Returns the session's data (its JSON text), or nil when the session does not exist. Both keys must
  live on one node: in Redis Cluster, sessions would need a shared hash tag.
]]
local data = redis.call('GET', KEYS[1])
if not data then
  return false
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return data
