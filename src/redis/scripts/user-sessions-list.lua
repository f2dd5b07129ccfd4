--[[
  A user's live sessions, dropping from the index the ids whose session has expired or ended, so the
  index never holds more than the user's live sessions once it has been read.

  KEYS[1] the user's session index
  ARGV[1] the prefix of session keys (the id follows it; see src/redis/keys.ts). Session keys are not
          declared: in Redis Cluster they would need the index's hash tag.

  Returns { id, stored value, remaining TTL in ms } for each live session, oldest first.
]]
local live = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  local value = redis.call('GET', key)
  if value then
    live[#live + 1] = { id, value, redis.call('PTTL', key) }
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return live
