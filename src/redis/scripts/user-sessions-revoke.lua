--[[
  Ends every session of a user ("log out everywhere") and announces each on the revocation stream, so
  every replica ends the streams they opened. Atomic: a session created after it is not affected,
  one created before it cannot survive it.

  KEYS[1] the user's session index
  KEYS[2] the revocation stream
  ARGV[1] the prefix of session keys (see user-sessions-list.lua)

  Returns how many live sessions were ended.
]]
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('DEL', ARGV[1] .. id) == 1 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 's', id)
    ended = ended + 1
  end
end
redis.call('DEL', KEYS[1])
return ended
