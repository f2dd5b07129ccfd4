import { createHash, randomBytes } from 'node:crypto'
import { keys } from '../redis/keys.js'

/*
 * Session ids, and the shard tag each one starts with.
 *
 * An id is `<tag><random>`, base64url: a 4-character tag (3 bytes), then 192 bits from the CSPRNG (32
 * characters), 36 characters in all. The tag picks the Redis Cluster slot of the session's key. A session
 * bound to a user carries the user's tag, a hash of the user id, so that all of a user's sessions and
 * the user's index share a slot and one script can create, list, rotate or end them atomically; an
 * anonymous session's tag is random. Rotation keeps the tag.
 *
 * The tag is 24 bits of SHA-256: it spreads users over every slot (there are 16,384) and does not spell the
 * user id out in the cookie, but it is no secret. Whoever holds a cookie and a list of user ids can tell
 * which of them the tag fits; the cookie's holder can read its user id from GET /sessions/current anyway.
 * It cannot be keyed with SESSION_SECRET, which rotates while the sessions and indexes it would place live on.
 *
 * v2 ids (32 characters, no tag) are still accepted, and their sessions read at their v2 keys, until the
 * last of them has expired (see doc/architecture.md, "Sessions").
 */

const TAG_LENGTH = 4
const V2_ID_LENGTH = 32

/** A session id of either layout, as a cookie may carry it: checked before any HMAC. */
export const SESSION_ID_PATTERN = /^(?:[A-Za-z0-9_-]{4})?[A-Za-z0-9_-]{32}$/

/** The shard tag of user `sub`'s sessions. The prefix keeps it apart from any other hash of the same id. */
export const userTag = (sub: string): string =>
  createHash('sha256').update(`hrs session tag\0${sub}`).digest().subarray(0, 3).toString('base64url')

/** A fresh session id; `tag` its user's ({@link userTag}) or, for an anonymous session, a random one. */
export const newSessionId = (tag: string = randomBytes(3).toString('base64url')): string =>
  `${tag}${randomBytes(24).toString('base64url')}`

/** The tag an id carries. */
export const tagOf = (id: string): string => id.slice(0, TAG_LENGTH)

/** Whether `id` is a v2 id, whose session lives at a v2 key. */
export const isV2Id = (id: string): boolean => id.length === V2_ID_LENGTH

/** The key of session `id`, in either layout. On the hot path: a length test and a slice. */
export const sessionKey = (id: string): string =>
  isV2Id(id) ? keys.v2Session(id) : keys.session(tagOf(id), id)

/** The key of user `sub`'s index, in the slot of the user's sessions. */
export const userIndexKey = (sub: string): string => keys.userSessions(userTag(sub), sub)

/** A session's name in listings and logs: enough to tell sessions apart, never enough to use one. */
export const sessionFingerprint = (id: string): string =>
  createHash('sha256').update(id).digest('base64url').slice(0, 12)
