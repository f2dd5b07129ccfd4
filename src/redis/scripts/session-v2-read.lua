--[[
  Reads a session of the v2 layout without sliding its expiry (a GET): v2 sessions are read until they
  expire, and expire at most SESSION_TTL_SECONDS after the last build that wrote them stopped. Goes
  with keys.v2Session (see doc/architecture.md, "Sessions").

  KEYS[1] the v2 session's key

  Returns the stored value, or nil.
]]
return redis.call('GET', KEYS[1])
