--[[
  Announces ended sessions on the revocation stream, which every replica's live reader follows, so that
  the streams those sessions opened end too. One entry per session; the stream keeps about the newest
  10,000. The stream is alone in its slot: this is the only script that writes it, and the session
  store calls it before and after it ends sessions (see doc/architecture.md, "Sessions").

  KEYS[1] the revocation stream
  ARGV    the ids of the sessions ended

  Returns the number of entries added.
]]
for _, id in ipairs(ARGV) do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', 10000, '*', 's', id)
end
return #ARGV
