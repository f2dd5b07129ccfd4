--[[
  Deletes a buffer's items and remembers the newest id it had issued, so that any older id is later
  answered with a `deleted` reset and a recreated buffer issues only newer ids (see buffer-append.lua).
  The meta hash is kept: it is a few bytes, and forgetting it would make old ids look current.

  KEYS[1] the buffer's stream
  KEYS[2] the buffer's meta hash

  Returns 1 when a buffer was deleted, 0 when there was none.
]]
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not newest then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'deleted', newest[1])
redis.call('HDEL', KEYS[2], 'trimmed')
return 1
