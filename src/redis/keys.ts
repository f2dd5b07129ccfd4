/**
 * Every Redis key this service uses is built here, so no two features can collide and a reader can see the
 * whole keyspace at a glance. All keys share one prefix; each feature owns a segment under it.
 *
 * | key                          | type   | owner                    |
 * |------------------------------|--------|--------------------------|
 * | `hrs:session:v2:<id>`        | string | sessions: the data's JSON text (see session-patch.lua; always with a TTL) |
 * | `hrs:buf:{<name>}:items`     | stream | buffers: the items (see buffer-append.lua) |
 * | `hrs:buf:{<name>}:meta`      | hash   | buffers: `deleted`, `trimmed` for exact resume; outlives the stream |
 */
const KEY_PREFIX = 'hrs:'

export const keys = {
  /**
   * One browser session; `id` is base64url, so it cannot contain the `:` separators. `v2`: the string
   * layout. Earlier builds of main kept a hash at `session:<id>`; the segment keeps those unread.
   */
  session: (id: string) => `${KEY_PREFIX}session:v2:${id}`,
  /**
   * A buffer's stream. Names are validated (`[A-Za-z0-9._:-]`, no braces), so the `{name}` hash tag
   * keeps a buffer's two keys in one cluster slot, and the `buf:` segment keeps every buffer key apart
   * from sessions and anything else.
   */
  bufferItems: (name: string) => `${KEY_PREFIX}buf:{${name}}:items`,
  /** A buffer's resume bookkeeping (see doc/architecture.md, "Streams"). */
  bufferMeta: (name: string) => `${KEY_PREFIX}buf:{${name}}:meta`,
} as const
