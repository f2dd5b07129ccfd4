--[[
  Reads a session and slides its expiry in the same round trip (the hash equivalent of GETEX).

  KEYS[1] session key
  ARGV[1] TTL in seconds

  Returns the session's data as JSON text, or nil when the session does not exist (EXPIRE on a missing
  key creates nothing, so no key is ever left without a TTL).
]]
--- @include "session-data-json"

if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then
  return false
end
return sessionDataJson(KEYS[1])
