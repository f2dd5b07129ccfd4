--[[
  Creates a session, and records it in its user's index when it is bound to one, atomically: a
  revocation that reads the index can never miss a session created before it. Every key is in the slot
  of the session's tag (see src/redis/keys.ts).

  KEYS[1] the new session's key
  KEYS[2] the user's session index (a sorted set of session ids by creation time), or absent for a
          session bound to no user
  ARGV[1] the stored value: the binding line and the data's JSON text (see src/sessions/store.ts)
  ARGV[2] TTL in seconds
  ARGV[3] the session id, ARGV[4] its creation time (ms), ARGV[5] how long the index lives (ms): it is
          kept alive by reads too (see SessionService.touchIndexOf)
  ARGV[6] the most sessions a user keeps

  Returns 0 when the key existed (an id collision: the caller picks another id), 1 when the session was
  created, 2 when it was created and its user's index now holds more than ARGV[6] ids: the caller then
  drops the ids of sessions that have gone and ends the oldest live ones past the limit. Ending is not
  done here: the revocation stream that announces it lives in another slot, and is written first.
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  return 0
end
if not KEYS[2] then
  return 1
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[6]) then
  return 2
end
return 1
