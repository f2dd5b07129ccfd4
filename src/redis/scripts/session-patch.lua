--[[
  Shallow-merges a patch into a session, atomically: concurrent patches to different keys all survive.

  A session is a string: its data's JSON text, compact, as JSON.stringify wrote it, after a first line
  holding its user binding when it has one (kept as it is). The merge works on
  that text without decoding any value (lua-cjson would lose number precision and turn [] into {}): the
  object's top-level members are split by scanning for structure (strings, brackets, braces), and
  members are compared and replaced as JSON text. Keys are JSON-encoded by JSON.stringify on both sides,
  so equal keys have equal text.

  A stored value whose structure is not that of an object (the data, and the binding line when there is
  one) is not one this service wrote: it is left alone and reported, rather than scanned into a merge.
  Not lua-cjson, which would check more: it refuses escaped lone surrogates, which JSON.stringify writes.

  KEYS[1]          session key
  ARGV[1]          TTL in seconds, or 'keep' to keep the expiry the key has (a v2 session: see
                   session-v2-read.lua)
  ARGV[2]          largest allowed size of the merged data as JSON, in bytes
  ARGV[3]          n, the number of keys to set
  ARGV[4..3+2n]    JSON-encoded key, JSON-encoded value pairs to set
  ARGV[4+2n..]     JSON-encoded keys to remove (those the patch set to null)

  Returns {0} when the session does not exist, {1, size} when the merge would exceed the limit (nothing
  is written), {2, merged JSON text, binding line} with the expiry reset, or {3} when the stored value
  is not a session's (nothing is written).
]]

-- The index just past the JSON string that starts (with its quote) at index i; nil if it never ends.
local function stringEnd(json, i)
  local at = i + 1
  while true do
    local found = string.find(json, '[\\"]', at)
    if not found then
      return nil
    end
    if string.sub(json, found, found) == '"' then
      return found + 1
    end
    at = found + 2 -- a backslash escapes the next character
  end
end

-- The index just past the JSON value that starts at index i; nil if it never ends.
local function valueEnd(json, i)
  local first = string.sub(json, i, i)
  if first == '"' then
    return stringEnd(json, i)
  end
  if first ~= '{' and first ~= '[' then -- number, true, false, null: up to the next delimiter
    return string.find(json, '[,}%]]', i)
  end
  local depth, at = 1, i + 1
  while depth > 0 do
    local found = string.find(json, '[%[%]{}"]', at)
    if not found then
      return nil
    end
    local char = string.sub(json, found, found)
    if char == '"' then
      at = stringEnd(json, found)
      if not at then
        return nil
      end
    else
      depth = depth + ((char == '{' or char == '[') and 1 or -1)
      at = found + 1
    end
  end
  return at
end

local function isObject(json)
  return string.sub(json, 1, 1) == '{' and string.sub(json, -1) == '}'
end

local key = KEYS[1]
local stored = redis.call('GET', key)
if not stored then
  return {0}
end
-- A session bound to a user keeps its binding on a first line (see src/sessions/store.ts); the data
-- follows. JSON.stringify never writes a raw line break, so the first one ends the binding.
local binding, current = '', stored
local lineEnd = string.find(stored, '\n', 1, true)
if lineEnd then
  binding, current = string.sub(stored, 1, lineEnd), string.sub(stored, lineEnd + 1)
end
if not isObject(current) or (lineEnd and not isObject(string.sub(binding, 1, -2))) then
  return {3}
end

-- The current members, in order: names[k] is the k-th key's JSON text, values[name] its value's.
local names, values = {}, {}
local at = 2 -- past '{'
while at < #current do
  local nameEnd = string.sub(current, at, at) == '"' and stringEnd(current, at)
  local valueFinish = nameEnd and string.sub(current, nameEnd, nameEnd) == ':' and valueEnd(current, nameEnd + 1)
  local after = valueFinish and string.sub(current, valueFinish, valueFinish)
  if after ~= ',' and after ~= '}' then
    return {3}
  end
  local name = string.sub(current, at, nameEnd - 1)
  names[#names + 1] = name
  values[name] = string.sub(current, nameEnd + 1, valueFinish - 1)
  at = valueFinish + 1 -- past ',' or '}'
end

local setCount = tonumber(ARGV[3])
local lastSet = 3 + 2 * setCount
for i = 4, lastSet, 2 do
  if values[ARGV[i]] == nil then
    names[#names + 1] = ARGV[i]
  end
  values[ARGV[i]] = ARGV[i + 1]
end
for i = lastSet + 1, #ARGV do
  values[ARGV[i]] = nil
end

local members = {}
for _, name in ipairs(names) do
  if values[name] ~= nil then
    members[#members + 1] = name .. ':' .. values[name]
  end
end
local merged = '{' .. table.concat(members, ',') .. '}'
if #merged > tonumber(ARGV[2]) then
  return {1, #merged}
end

if ARGV[1] == 'keep' then
  redis.call('SET', key, binding .. merged, 'KEEPTTL')
else
  redis.call('SET', key, binding .. merged, 'EX', ARGV[1])
end
return {2, merged, binding}
