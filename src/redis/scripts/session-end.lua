--[[
  Ends a session (logout) and announces it on the revocation stream, which every replica's live reader
  follows, so that the streams the session opened end too.

  KEYS[1] the session's key
  KEYS[2] the revocation stream
  ARGV[1] the session id

  Returns 1 when a session was ended, 0 when there was none.
]]
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 's', ARGV[1])
return 1
