--[[
  Appends items to a buffer, trims it to its retention and records what exact resume needs, atomically:
  a batch is all or nothing, and no reader ever sees a trim without its record.

  KEYS[1] the buffer's stream
  KEYS[2] the buffer's meta hash: `deleted` (newest id when it was last deleted), `trimmed` (newest id
          trimmed away from the current stream)
  ARGV[1] the buffer's notification channel (a shard channel in the buffer's slot): the live reader on a
          cluster reads the buffer when it hears of new items there. Not among KEYS: no key of that name
          ever exists, so during a migration of the slot Redis would count it as a key already moved
          and answer TRYAGAIN to every append until the move ends, not only while the stream and its
          meta are on different nodes (tests/redis/slot-migration.test.ts).
  ARGV[2] retention: the most items kept (BUFFER_MAX_LEN)
  ARGV[3], ARGV[4], ... the event and the data (JSON text) of each item, in order

  Entry fields: e event, d data, t append time (ms, Redis's clock), p the id of the entry before it in
  this stream, '' for the first entry of a stream (so a live reader can tell a gap from a neighbour).
  Returns the new ids, in order.
]]
local stream, meta = KEYS[1], KEYS[2]
local notifications, max_len = ARGV[1], tonumber(ARGV[2])

local clock = redis.call('TIME')
local now_ms = clock[1] .. string.format('%03d', math.floor(tonumber(clock[2]) / 1000))

local prev = ''
local next_id = '*'
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if newest then
  prev = newest[1]
else
  -- A recreated buffer: its ids must sort after every id the deleted one issued, whatever the clock
  -- says, so that an old id is always recognised as older than the deletion.
  local deleted = redis.call('HGET', meta, 'deleted')
  if deleted then
    local ms, seq = string.match(deleted, '^(%d+)-(%d+)$')
    if tonumber(now_ms) <= tonumber(ms) then
      next_id = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
end

local ids = {}
for i = 3, #ARGV, 2 do
  local id = redis.call('XADD', stream, next_id, 'e', ARGV[i], 'd', ARGV[i + 1], 't', now_ms, 'p', prev)
  ids[#ids + 1] = id
  prev = id
  next_id = '*'
end

-- Exact trimming, and the newest id it removes: a resume id older than that has a gap. The oldest
-- entry kept names the entry before it in its `p` field, which is exactly that id.
if redis.call('XTRIM', stream, 'MAXLEN', max_len) > 0 then
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  for i = 1, #oldest[2], 2 do
    if oldest[2][i] == 'p' then
      redis.call('HSET', meta, 'trimmed', oldest[2][i + 1])
    end
  end
end
-- pcall: SPUBLISH needs Redis 7.0, which only cluster mode requires (a standalone reader blocks instead).
redis.pcall('SPUBLISH', notifications, '')
return ids
