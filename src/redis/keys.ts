/**
 * Every Redis key this service uses is built here, so no two features can collide and a reader can see the
 * whole keyspace at a glance. All keys share one prefix; each feature owns a segment under it.
 *
 * | key                          | type   | owner                    |
 * |------------------------------|--------|--------------------------|
 * | `hrs:session:<id>`           | hash   | sessions (see session-create.lua; always with a TTL) |
 */
export const KEY_PREFIX = 'hrs:'

export const keys = {
  /** One browser session; `id` is base64url, so it cannot contain the `:` separators. */
  session: (id: string) => `${KEY_PREFIX}session:${id}`,
} as const
