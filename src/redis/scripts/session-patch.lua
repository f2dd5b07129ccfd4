--[[
  Shallow-merges a patch into a session, atomically: concurrent patches to different keys all survive.

  KEYS[1]          session key
  ARGV[1]          TTL in seconds
  ARGV[2]          largest allowed size of the merged data as JSON, in bytes
  ARGV[3]          n, the number of fields to set
  ARGV[4..3+2n]    field, value pairs to set
  ARGV[4+2n..]     fields to remove (keys the patch set to null)

  The merged size is that of '{' .. field .. ':' .. value .. (',' ...) .. '}', counted without decoding.

  Returns {0} when the session does not exist, {1, size} when the merge would exceed the limit (nothing
  is written), or {2, data as JSON text} with the expiry reset.
]]
--- @include "session-data-json"

local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then
  return {0}
end

local merged = {}
local current = redis.call('HGETALL', key)
for i = 1, #current, 2 do
  if current[i] ~= '@' then
    merged[current[i]] = current[i + 1]
  end
end

local setCount = tonumber(ARGV[3])
local lastSet = 3 + 2 * setCount
for i = 4, lastSet, 2 do
  merged[ARGV[i]] = ARGV[i + 1]
end
for i = lastSet + 1, #ARGV do
  merged[ARGV[i]] = nil
end

local size, count = 2, 0
for field, value in pairs(merged) do
  size = size + #field + 1 + #value
  count = count + 1
end
if count > 1 then
  size = size + count - 1
end
if size > tonumber(ARGV[2]) then
  return {1, size}
end

if setCount > 0 then
  redis.call('HSET', key, unpack(ARGV, 4, lastSet))
end
-- In chunks: unpack() of thousands of values exceeds Lua's stack, and a patch may name many keys to remove.
for first = lastSet + 1, #ARGV, 1000 do
  redis.call('HDEL', key, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
redis.call('EXPIRE', key, ARGV[1])
return {2, sessionDataJson(key)}
