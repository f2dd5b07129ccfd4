/**
 * Every Redis key this service uses is built here, so no two features can collide and a reader can see the
 * whole keyspace at a glance. All keys share one prefix; each feature owns a segment under it.
 *
 * | key                          | type   | owner                    |
 * |------------------------------|--------|--------------------------|
 * | `hrs:session:v2:<id>`        | string | sessions: the data's JSON text (see session-patch.lua; always with a TTL) |
 * | `hrs:buf:{<name>}:items`     | stream | buffers: the items (see buffer-append.lua) |
 * | `hrs:buf:{<name>}:meta`      | hash   | buffers: `deleted`, `trimmed` for exact resume; outlives the stream |
 * | `hrs:rl:{<kind>:<subject>}`  | string | limits: one rate limit's state (see rate-limit.lua; with a TTL) |
 * | `hrs:sse:slots:{<session>}`  | zset   | limits: a session's open SSE streams, by lease expiry (see stream-slot-acquire.lua; TTL) |
 * | `hrs:user:{<sub>}:sessions`  | zset   | sessions: the live sessions of a user (see session-create.lua) |
 * | `hrs:revoked`                | stream | sessions: ids of ended sessions, so every replica ends their streams |
 */
const KEY_PREFIX = 'hrs:'

export const keys = {
  /**
   * One browser session; `id` is base64url, so it cannot contain the `:` separators. `v2`: the string
   * layout. Earlier builds of main kept a hash at `session:<id>`; the segment keeps those unread.
   */
  session: (id: string) => `${KEY_PREFIX}session:v2:${id}`,
  /** What every session key starts with, for scripts that reach a user's sessions from their ids. */
  sessionPrefix: () => `${KEY_PREFIX}session:v2:`,
  /**
   * A buffer's stream. Names are validated (`[A-Za-z0-9._:-]`, no braces), so the `{name}` hash tag
   * keeps a buffer's two keys in one cluster slot, and the `buf:` segment keeps every buffer key apart
   * from sessions and anything else.
   */
  bufferItems: (name: string) => `${KEY_PREFIX}buf:{${name}}:items`,
  /**
   * The sessions bound to user `sub` (a sorted set: session ids by creation time), for listing and
   * revoking them. `sub` is URI-encoded, so it cannot break the hash tag or the separators.
   */
  userSessions: (sub: string) => `${KEY_PREFIX}user:{${encodeURIComponent(sub)}}:sessions`,
  /** Ended sessions (a stream, trimmed to about 10,000 entries), which every replica's live reader follows. */
  revokedSessions: () => `${KEY_PREFIX}revoked`,
  /** A buffer's resume bookkeeping (see doc/architecture.md, "Streams"). */
  bufferMeta: (name: string) => `${KEY_PREFIX}buf:{${name}}:meta`,
  /** One rate limit's state. The subject is any string (an address, a token): URI-encoded, no brace breaks the tag. */
  rateLimit: (kind: string, subject: string) => `${KEY_PREFIX}rl:{${kind}:${encodeURIComponent(subject)}}`,
  /** The SSE stream slots of one session (any string, URI-encoded like a rate limit's subject). */
  streamSlots: (session: string) => `${KEY_PREFIX}sse:slots:{${encodeURIComponent(session)}}`,
} as const

/** What a command touching a key is for, in the metrics' command durations: a small fixed set. */
export type KeyFamily = 'session' | 'buffer' | 'limit' | 'other'

// Whole prefixes, each one startsWith without a position: the cheapest test V8 has, and the session
// read's key, on the hot path, is the first one tried.
const FAMILY_PREFIXES: readonly (readonly [string, KeyFamily])[] = [
  [`${KEY_PREFIX}session:`, 'session'],
  [`${KEY_PREFIX}buf:`, 'buffer'],
  [`${KEY_PREFIX}rl:`, 'limit'],
  [`${KEY_PREFIX}sse:`, 'limit'],
  [`${KEY_PREFIX}user:`, 'session'],
  [keys.revokedSessions(), 'session'],
]

/**
 * The family of `key` (the first key of a command or script), by the segments above: sessions and
 * their users' indexes and revocations, buffers, limits (rate limits and stream slots).
 */
export function keyFamily(key: string | undefined): KeyFamily {
  if (key === undefined) return 'other'
  for (const [prefix, family] of FAMILY_PREFIXES) if (key.startsWith(prefix)) return family
  return 'other'
}
