--[[
  The live sessions among some of a user's indexed ids, dropping from the index the ids whose session
  has expired or ended, so the index never holds more than the user's live sessions once it has been
  read. The session keys are those of the ids user-sessions-ids.lua returned, in the index's slot.

  KEYS[1]      the user's session index
  KEYS[2..n+1] the keys of the sessions named by ARGV[1..n], in the same order

  Returns { id, stored value, remaining TTL in ms } for each live session, in the order given.
]]
local live = {}
for i, id in ipairs(ARGV) do
  local key = KEYS[i + 1]
  local value = redis.call('GET', key)
  if value then
    live[#live + 1] = { id, value, redis.call('PTTL', key) }
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return live
