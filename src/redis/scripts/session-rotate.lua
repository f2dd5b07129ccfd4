--[[
  Moves a session to a new id (defence against session fixation): the old id stops working in the
  same atomic step in which the new one starts, and a session bound to a user is indexed under its new
  id. The new id keeps the old one's tag, so every key is in one slot. The old id's streams are told to
  end by the caller, on the revocation stream, before and after (see SessionStore.rotate).

  KEYS[1] current session key
  KEYS[2] new session key
  KEYS[3] the user's session index, or absent for a session bound to no user
  ARGV[1] TTL in seconds
  ARGV[2] the current session id, ARGV[3] the new one, ARGV[4] now (ms)

  Returns the stored value (binding line and data), or nil when the session does not exist.
]]
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
if KEYS[3] then
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
return value
