--[[
  Included by the session scripts (see readLuaScript).

  sessionDataJson(key) returns a session's data as JSON object text, built from its hash: each field is a
  key JSON-encoded and its value JSON-encoded, so the text is the fields joined, and nothing is decoded in
  Lua (lua-cjson would lose number precision and turn [] into {}). '@' is the store's own field.
]]
local function sessionDataJson(key)
  local fields = redis.call('HGETALL', key)
  local members = {}
  for i = 1, #fields, 2 do
    if fields[i] ~= '@' then
      members[#members + 1] = fields[i] .. ':' .. fields[i + 1]
    end
  end
  return '{' .. table.concat(members, ',') .. '}'
end
