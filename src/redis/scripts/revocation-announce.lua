--[[
  Announces ended sessions on the revocation stream, which every replica's live reader follows, so that
  the streams those sessions opened end too. One entry per session; the stream keeps about the newest
  10,000. The stream is alone in its slot: this is the only script that writes it, and the session
  store calls it before and after it ends sessions (see doc/architecture.md, "Sessions").

  KEYS[1] the revocation stream
  KEYS[2] its notification channel (a shard channel in its slot), for the live reader on a cluster
  ARGV    the ids of the sessions ended

  Returns the number of entries added.
]]
for _, id in ipairs(ARGV) do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*', 's', id)
end
-- pcall: SPUBLISH needs Redis 7.0, which only cluster mode requires (a standalone reader blocks instead).
redis.pcall('SPUBLISH', KEYS[2], '')
return #ARGV
