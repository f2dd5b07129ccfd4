--[[
  Creates a session, and records it in its user's index when it is bound to one, atomically: a
  revocation that lists the index can never miss a session created before it.

  KEYS[1] the new session's key
  KEYS[2] the user's session index (a sorted set of session ids by creation time), or absent for a
          session bound to no user
  ARGV[1] the stored value: the binding line and the data's JSON text (see src/sessions/store.ts)
  ARGV[2] TTL in seconds
  ARGV[3] the session id, ARGV[4] its creation time (ms), ARGV[5] how long the index lives (ms): it is
          kept alive by reads too (see SessionStore.touchIndex)

  Returns 1 when created, 0 when the key existed (an id collision: the caller picks another id).
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  return 0
end
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 1
