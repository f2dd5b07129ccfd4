--[[
  Creates a session with its expiry, atomically.

  A session is a hash: one field per top-level key of its data. The field name is the key JSON-encoded
  and the value is the value JSON-encoded, so the data's JSON size can be counted from string lengths
  alone (see session-patch.lua) and no value is ever decoded in Lua (lua-cjson loses number precision
  and turns [] into {}). The field '@' always exists, so a session with empty data still has a key.

  KEYS[1]   session key
  ARGV[1]   TTL in seconds
  ARGV[2]   creation time, ms since the epoch (stored in '@')
  ARGV[3..] field, value pairs

  Returns 1, or 0 when the key already exists (an id collision: nothing is written).
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], '@', ARGV[2], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
