--[[
  Ends some sessions of a user and drops their ids from the user's index, atomically: "log out
  everywhere", and the oldest sessions of a user past the most a user keeps. The caller announces them on
  the revocation stream before and after (see SessionStore#endIndexed): that stream is in another slot.

  KEYS[1]      the user's session index
  KEYS[2..n+1] the keys of the sessions named by ARGV[1..n], in the same order

  Returns the ids of the sessions that were live and are now ended.
]]
local ended = {}
for i, id in ipairs(ARGV) do
  if redis.call('DEL', KEYS[i + 1]) == 1 then
    ended[#ended + 1] = id
  end
  redis.call('ZREM', KEYS[1], id)
end
return ended
