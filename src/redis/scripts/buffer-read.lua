--[[
  Reads a page of a buffer after a client's id and decides, in the same atomic step, whether the client
  can have everything after that id (see doc/architecture.md, "Streams": the reset rule).

  KEYS[1] the buffer's stream
  KEYS[2] the buffer's meta hash (`deleted`, `trimmed`; see buffer-append.lua)
  ARGV[1] where to read: an id `ms-seq` (canonical decimal: no leading zeros), '-' for the oldest
          retained item (no reset check), '$' for nothing (just the newest id)
  ARGV[2] the most entries to return

  Returns { reason, oldestId, newestId, entries }: reason is 'trimmed', 'deleted', 'ahead' or false;
  on a reset the entries start at the oldest retained item and oldestId names it (false when empty);
  newestId is the newest id in the stream (false when it does not exist).
]]
local stream, meta = KEYS[1], KEYS[2]
local after, count = ARGV[1], ARGV[2]

-- Ids are compared as two unsigned decimals of any length: by length, then by digits.
local function compare_decimal(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function compare_ids(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  local by_ms = compare_decimal(a_ms, b_ms)
  if by_ms ~= 0 then return by_ms end
  return compare_decimal(a_seq, b_seq)
end

local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
local newest_id = newest and newest[1] or false
if after == '$' then return { false, false, newest_id, {} } end
if after == '-' then return { false, false, newest_id, redis.call('XRANGE', stream, '-', '+', 'COUNT', count) } end

local state = redis.call('HMGET', meta, 'deleted', 'trimmed')
local deleted, trimmed = state[1], state[2]
local reason = false
-- '0-0' was never issued: it asks for everything, so only trimming can keep something from it.
if after ~= '0-0' then
  local ceiling = newest_id or deleted
  if not ceiling or compare_ids(after, ceiling) > 0 then
    reason = 'ahead'
  elseif deleted and compare_ids(after, deleted) <= 0 then
    reason = 'deleted'
  end
end
if not reason and trimmed and compare_ids(after, trimmed) < 0 then reason = 'trimmed' end

if reason then
  local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', count)
  return { reason, entries[1] and entries[1][1] or false, newest_id, entries }
end
return { false, false, newest_id, redis.call('XRANGE', stream, '(' .. after, '+', 'COUNT', count) }
