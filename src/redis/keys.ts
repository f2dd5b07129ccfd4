/**
 * Every Redis key this service uses is built here, so no two features can collide and a reader can see the
 * whole keyspace at a glance. All keys share one prefix; each feature owns a segment under it.
 *
 * Redis Cluster puts a key in one of 16,384 slots by the part between its first `{` and the next `}` (its
 * hash tag), and one command or script may only touch keys of one slot. So every set of keys one script
 * touches shares a tag: a buffer's two keys `{<name>}`, a user's sessions and their index `{<tag>}`, where
 * the tag is the one a bound session's id starts with (see src/sessions/ids.ts). The revocation stream
 * is alone in its slot and written by a command of its own (see doc/architecture.md, "Sessions").
 *
 * | key                                   | type   | owner                    |
 * |---------------------------------------|--------|--------------------------|
 * | `hrs:session:v3:{<tag>}:<id>`         | string | sessions: a binding line and the data's JSON text (see src/sessions/store.ts; always with a TTL) |
 * | `hrs:user:{<tag>}:<sub>:sessions`     | zset   | sessions: the live sessions of a user, ids by creation time (see session-create.lua) |
 * | `hrs:revoked`                         | stream | sessions: ids of ended sessions, so every replica ends their streams |
 * | `hrs:buf:{<name>}:items`              | stream | buffers: the items (see buffer-append.lua) |
 * | `hrs:buf:{<name>}:meta`               | hash   | buffers: `deleted`, `trimmed` for exact resume; outlives the stream |
 * | `<stream key>:notify`, `hrs:revoked:notify:{hrs:revoked}` | shard channel | live: a stream's writer announces new entries (see {@link streamNotifications}) |
 * | `hrs:rl:{<kind>:<subject>}`           | string | limits: one rate limit's state (see rate-limit.lua; with a TTL) |
 * | `hrs:sse:slots:{<session>}`           | zset   | limits: a session's open SSE streams, by lease expiry (see stream-slot-acquire.lua; TTL) |
 * | `hrs:session:v2:<id>`                 | string | sessions, v2 layout: read until they expire, never written anew (see `v2Session`) |
 * | `hrs:user:{<sub>}:sessions`           | zset   | sessions, v2 layout: a user's v2 sessions (see `v2UserSessions`) |
 */
const KEY_PREFIX = 'hrs:'

export const keys = {
  /**
   * One browser session. `tag` is the shard tag its id starts with, so that a user's sessions share a
   * slot with the user's index; `id` is base64url, so neither can contain `{`, `}` or `:`. `v3`: the
   * layout with a tag (v2 had none; an earlier build of main kept a hash at `session:<id>`).
   */
  session: (tag: string, id: string) => `${KEY_PREFIX}session:v3:{${tag}}:${id}`,
  /**
   * The sessions bound to user `sub` (a sorted set: session ids by creation time), for listing and
   * revoking them, in the slot of `tag`, the tag of every session of that user. `sub` is URI-encoded,
   * so it cannot break the hash tag or the separators.
   */
  userSessions: (tag: string, sub: string) =>
    `${KEY_PREFIX}user:{${tag}}:${encodeURIComponent(sub)}:sessions`,
  /** Ended sessions (a stream, trimmed to about 10,000 entries), which every replica's live reader follows. */
  revokedSessions: () => `${KEY_PREFIX}revoked`,
  /**
   * A buffer's stream. Names are validated (`[A-Za-z0-9._:-]`, no braces), so the `{name}` hash tag
   * keeps a buffer's two keys in one cluster slot, and the `buf:` segment keeps every buffer key apart
   * from sessions and anything else.
   */
  bufferItems: (name: string) => `${KEY_PREFIX}buf:{${name}}:items`,
  /** A buffer's resume bookkeeping (see doc/architecture.md, "Streams"). */
  bufferMeta: (name: string) => `${KEY_PREFIX}buf:{${name}}:meta`,
  /**
   * The shard channel (SPUBLISH) on which the writer of stream `streamKey` announces new entries, for the
   * live reader on a cluster (doc/architecture.md, "Per-shard reader"). It hashes to the stream's slot, so
   * the script that writes the stream may publish on it: a key with a hash tag keeps it, a key without
   * one (the revocation stream) gets itself as the channel's tag.
   */
  streamNotifications: (streamKey: string) =>
    streamKey.includes('{') ? `${streamKey}:notify` : `${streamKey}:notify:{${streamKey}}`,
  /** One rate limit's state. The subject is any string (an address, a token): URI-encoded, no brace breaks the tag. */
  rateLimit: (kind: string, subject: string) => `${KEY_PREFIX}rl:{${kind}:${encodeURIComponent(subject)}}`,
  /** The SSE stream slots of one session (any string, URI-encoded like a rate limit's subject). */
  streamSlots: (session: string) => `${KEY_PREFIX}sse:slots:{${encodeURIComponent(session)}}`,
  /**
   * A session of the v2 layout, whose id carries no tag. Sessions are no longer written there, only read,
   * patched, rotated away and ended until they expire: see doc/architecture.md, "Sessions", for when this
   * and {@link v2UserSessions} can go.
   */
  v2Session: (id: string) => `${KEY_PREFIX}session:v2:${id}`,
  /** A user's index of v2 sessions (their keys are in other slots: it only ever served one Redis). */
  v2UserSessions: (sub: string) => `${KEY_PREFIX}user:{${encodeURIComponent(sub)}}:sessions`,
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
