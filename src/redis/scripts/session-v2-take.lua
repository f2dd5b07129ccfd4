--[[
  Takes a session of the v2 layout away, to move it to a v3 id when it is rotated: its value is
  returned and its key deleted in one command (GETDEL), so the v2 id stops working before the new one
  starts. Goes with keys.v2Session (see doc/architecture.md, "Sessions").

  KEYS[1] the v2 session's key

  Returns the stored value, or nil when there was none.
]]
return redis.call('GETDEL', KEYS[1])
