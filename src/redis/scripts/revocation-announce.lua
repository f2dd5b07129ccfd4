--[[
  Announces ended sessions on the revocation stream, which every replica's live reader follows, so that
  the streams those sessions opened end too. One entry per session; the stream keeps about the newest
  10,000. The stream is alone in its slot: this is the only script that writes it, and the session
  store calls it before and after it ends sessions (see doc/architecture.md, "Sessions").

  KEYS[1]   the revocation stream
  ARGV[1]   its notification channel (a shard channel in its slot), for the live reader on a cluster; not
            among KEYS, as in buffer-append.lua: a key that never exists makes Redis answer TRYAGAIN
            for the whole of a migration of the slot
  ARGV[2].. the ids of the sessions ended

  Returns the number of entries added.
]]
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*', 's', ARGV[i])
end
-- pcall: SPUBLISH needs Redis 7.0, which only cluster mode requires (a standalone reader blocks instead).
redis.pcall('SPUBLISH', ARGV[1], '')
return #ARGV - 1
