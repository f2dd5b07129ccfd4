--[[
  The ids in a user's session index, oldest first: what the scripts that read or end those sessions
  must be given the keys of, since a script may only touch the keys it declares.

  KEYS[1] the user's session index

  Returns the ids, oldest first.
]]
return redis.call('ZRANGE', KEYS[1], 0, -1)
