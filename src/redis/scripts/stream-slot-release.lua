--[[
  Gives a slot back (ZREM). A script rather than a client method so that the Redis interface stays the
  commands the stores share; it is still one command.

  KEYS[1] the session's slots (see stream-slot-acquire.lua)
  ARGV[1] the slot's id

  Returns 1 when the slot was held, 0 when it was already gone (expired, or released before).
]]
return redis.call('ZREM', KEYS[1], ARGV[1])
