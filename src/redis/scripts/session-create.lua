--[[
  Creates a session, and records it in its user's index when it is bound to one, atomically: a
  revocation that lists the index can never miss a session created before it. The index keeps at most
  ARGV[6] sessions: ids whose session has expired are dropped first, then the oldest live sessions are
  ended (and announced on the revocation stream, so their streams end too).

  KEYS[1] the new session's key
  KEYS[2] the user's session index (a sorted set of session ids by creation time), or absent for a
          session bound to no user
  KEYS[3] the revocation stream (with KEYS[2])
  ARGV[1] the stored value: the binding line and the data's JSON text (see src/sessions/store.ts)
  ARGV[2] TTL in seconds
  ARGV[3] the session id, ARGV[4] its creation time (ms), ARGV[5] how long the index lives (ms): it is
          kept alive by reads too (see SessionService.touchIndexOf)
  ARGV[6] the most sessions a user keeps; ARGV[7] the prefix of session keys (the id follows it). Those
          keys are not declared: in Redis Cluster they would need the index's hash tag.

  Returns 1 when created, 0 when the key existed (an id collision: the caller picks another id).
]]
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  return 0
end
if not KEYS[2] then
  return 1
end
local index, cap, prefix = KEYS[2], tonumber(ARGV[6]), ARGV[7]
redis.call('ZADD', index, ARGV[4], ARGV[3])
redis.call('PEXPIRE', index, ARGV[5])
if redis.call('ZCARD', index) <= cap then
  return 1
end
for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  if redis.call('EXISTS', prefix .. id) == 0 then
    redis.call('ZREM', index, id)
  end
end
while redis.call('ZCARD', index) > cap do
  local oldest = redis.call('ZRANGE', index, 0, 0)[1]
  redis.call('DEL', prefix .. oldest)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 's', oldest)
  redis.call('ZREM', index, oldest)
end
return 1
