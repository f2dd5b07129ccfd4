import type { Redis as UpstashRedis } from '@upstash/redis'
import { BufferStore } from '../../src/buffers/store.js'
import { RateLimiter } from '../../src/limits/rate-limiter.js'
import { StreamSlots } from '../../src/limits/stream-slots.js'
import type { Redis, RedisCommands, ReplicatedScripts } from '../../src/redis/client.js'
import { SessionStore } from '../../src/sessions/store.js'

/*
 * A compile-time test, checked by `npm run typecheck` (tsconfig.json includes tests/); vitest runs only
 * `*.test.ts`, and nothing here runs or reaches Upstash. It shows that @upstash/redis's `Redis` (a dev
 * dependency only) is a RedisCommands: the stores could be built over Upstash's client. Built, that is,
 * with `automaticDeserialization: false`, which the types cannot show: the stores read Redis's replies
 * as stored (see RedisCommands).
 */

declare const upstash: UpstashRedis

export const commands: RedisCommands = upstash

export const stores = () => [
  new SessionStore(upstash, 86_400),
  new BufferStore(upstash, 1000),
  new RateLimiter(upstash, { limits: { sessions: 30, authFailures: 30, appends: 6000 } }),
  new StreamSlots(upstash, { maxPerSession: 16 }),
]

// What only a connection of our own offers is not Upstash's: the live reader's blocking reads above all.
// @ts-expect-error Upstash's REST client has no createStreamReader (nor role, nor stats)
export const connection: Redis = upstash

// @ts-expect-error Nor can it WAIT for replicas: WAIT counts the writes of a connection, which REST has not
export const replicated: ReplicatedScripts = upstash
