import { readdirSync, readFileSync } from 'node:fs'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BufferStore } from '../../src/buffers/store.js'
import { RateLimiter } from '../../src/limits/rate-limiter.js'
import { StreamSlots } from '../../src/limits/stream-slots.js'
import type { RedisCommands } from '../../src/redis/client.js'
import { connectRedis, type RedisConnection } from '../../src/redis/connection.js'
import { keys } from '../../src/redis/keys.js'
import { sessionKey } from '../../src/sessions/ids.js'
import { type SessionBinding, SessionStore } from '../../src/sessions/store.js'
import { testEnv } from '../support/env.js'
import { keySlot } from '../support/key-slot.js'
import { type SingleNodeCluster, startSingleNodeCluster } from '../support/single-node-cluster.js'

/**
 * Every Lua script the stores run, run for real on Redis in cluster mode, through the stores themselves:
 * the keys each call declares must hash to one slot (checked here against the key slot function, and
 * by Redis, which refuses a script whose declared keys do not: CROSSSLOT). Each script is sent with a
 * `#!lua` first line, which makes Redis 7 also refuse a script that touches, declared or not, keys of
 * two slots; the scripts themselves carry none, so they still run on Redis 6.2.
 */

const SCRIPTS_DIR = new URL('../../src/redis/scripts/', import.meta.url)
const scriptNames = readdirSync(SCRIPTS_DIR)
  .filter((file) => file.endsWith('.lua'))
  .map((file) => file.slice(0, -'.lua'.length))
const nameOf = new Map(
  scriptNames.map((name) => [readFileSync(new URL(`${name}.lua`, SCRIPTS_DIR), 'utf8'), name]),
)

interface Call {
  /** The script's file name, or the command. */
  name: string
  keys: string[]
}

/** The stores' commands over a real connection, recording every call's keys, each script sent with `#!lua`. */
function recording(redis: RedisCommands, calls: Call[]): RedisCommands {
  const recorded =
    <A extends unknown[], R>(name: string, keysOf: (...args: A) => string[], command: (...args: A) => R) =>
    (...args: A): R => {
      calls.push({ name, keys: keysOf(...args) })
      return command(...args)
    }
  return {
    getex: recorded(
      'GETEX',
      (key) => [key],
      (key: string, opts: { ex: number }) => redis.getex(key, opts),
    ),
    del: recorded(
      'DEL',
      (...keys) => keys,
      (...keys: string[]) => redis.del(...keys),
    ),
    pttl: recorded(
      'PTTL',
      (key) => [key],
      (key: string) => redis.pttl(key),
    ),
    pexpire: recorded(
      'PEXPIRE',
      (key) => [key],
      (key: string, ms: number) => redis.pexpire(key, ms),
    ),
    createScript: <T>(source: string) => {
      const script = redis.createScript<T>(`#!lua\n${source}`)
      const exec = (keys: string[], args: string[]) => script.exec(keys, args)
      return { exec: recorded(nameOf.get(source) ?? 'unknown script', (keys) => keys, exec) }
    },
  }
}

/** Creation times one ms apart: a user's index orders sessions by them. */
let createdAt = Date.now()
const binding = (sub: string): SessionBinding => ({
  sub,
  grant: { read: ['orders.*'], write: [] },
  grantExpiresAt: Date.now() + 60_000,
  createdAt: createdAt++,
})

/** Users and buffers whose names try the hash tag's edges: braces, separators, non-ASCII. */
const USERS = ['ada', 'user{1}', 'b:}{c', 'émile-😀']
const BUFFERS = ['orders', 'a.b:c-d_e', '0']

let cluster: SingleNodeCluster
let connection: RedisConnection
const calls: Call[] = []
let commands: RedisCommands

beforeAll(async () => {
  cluster = await startSingleNodeCluster()
  connection = await connectRedis(testEnv(cluster.url))
  commands = recording(connection.redis, calls)
})
afterAll(async () => {
  await connection?.close()
  await cluster?.stop()
})

describe('a cluster-enabled Redis enforces single-slot scripts', () => {
  it('refuses declared keys of two slots (CROSSSLOT), and with #!lua, keys of two slots touched at all', async () => {
    const script = connection.redis.createScript("return redis.call('GET', KEYS[1])")
    await expect(script.exec(['a{1}', 'a{2}'], [])).rejects.toThrow(/CROSSSLOT/)
    const undeclared = connection.redis.createScript("#!lua\nreturn redis.call('GET', 'other{2}')")
    await expect(undeclared.exec(['a{1}'], [])).rejects.toThrow(/do not hash to the same slot/)
  })
})

describe('every store operation on a cluster of one node', () => {
  it('runs each script with keys of one slot, and works', async () => {
    const ttl = 600
    const sessions = new SessionStore(commands, ttl)
    for (const sub of USERS) {
      const anonymous = await sessions.create({ n: 1 })
      expect((await sessions.read(anonymous.id))?.data).toEqual({ n: 1 })
      expect((await sessions.patch(anonymous.id, { m: 2, n: null }))?.data).toEqual({ m: 2 })
      const rotatedAnonymous = await sessions.rotate(anonymous.id, null)
      expect(rotatedAnonymous?.id.slice(0, 4)).toBe(anonymous.id.slice(0, 4))
      expect(await sessions.end(rotatedAnonymous?.id as string)).toBe(true)

      const bound = await sessions.create({ a: 1 }, binding(sub))
      expect((await sessions.read(bound.id))?.binding?.sub).toBe(sub)
      await sessions.touchIndex(sub)
      expect(await sessions.remainingMs(bound.id)).toBeGreaterThan(0)
      const rotated = await sessions.rotate(bound.id, sub)
      expect(rotated?.id).not.toBe(bound.id)
      const second = await sessions.create({}, binding(sub))
      expect((await sessions.listUser(sub)).map(({ id }) => id)).toEqual([rotated?.id, second.id])
      expect(await sessions.revokeUser(sub)).toBe(2)
      expect(await sessions.listUser(sub)).toEqual([])
    }

    // Past the most sessions a user keeps, the oldest end.
    const prolific = USERS[0] as string
    const created = []
    for (let n = 0; n < 101; n++) created.push(await sessions.create({}, binding(prolific)))
    expect(await sessions.read(created[0]?.id as string)).toBeNull()
    expect(await sessions.listUser(prolific)).toHaveLength(100)

    // A v2 session (no tag, one key): read without sliding, patched, rotated into v3, ended.
    const raw = createClient({ url: cluster.url })
    await raw.connect()
    const v2Ids = ['A'.repeat(32), 'B'.repeat(32)]
    for (const id of v2Ids)
      await raw.set(keys.v2Session(id), '{"old":true}', { expiration: { type: 'EX', value: 60 } })
    raw.destroy()
    expect((await sessions.read(v2Ids[0] as string))?.data).toEqual({ old: true })
    expect((await sessions.patch(v2Ids[0] as string, { more: 1 }))?.data).toEqual({ old: true, more: 1 })
    const moved = await sessions.rotate(v2Ids[0] as string, null)
    expect(moved?.id).toHaveLength(36)
    expect(await sessions.end(v2Ids[1] as string)).toBe(true)

    const buffers = new BufferStore(commands, 3)
    for (const name of BUFFERS) {
      const ids = await buffers.append(name, [
        { event: 'message', data: '1' },
        { event: 'message', data: '2' },
      ])
      await buffers.append(
        name,
        ['3', '4', '5'].map((data) => ({ event: 'message', data })),
      )
      expect((await buffers.read(name, { after: ids[0] as string }, 10)).reset?.reason).toBe('trimmed')
      expect((await buffers.read(name, 'oldest', 10)).items).toHaveLength(3)
      expect((await buffers.read(name, 'newest', 10)).newestId).not.toBeNull()
      expect((await buffers.info(name))?.length).toBe(3)
      expect(await buffers.delete(name)).toBe(true)
    }

    const limits = new RateLimiter(commands, { limits: { sessions: 2, authFailures: 2, appends: 2 } })
    await limits.consume('sessions', '203.0.113.7')
    await limits.check('authFailures', 'a{b}c')

    const slots = new StreamSlots(commands, { maxPerSession: 2 })
    try {
      const slot = await slots.acquire(moved?.id as string)
      await slots.renew()
      await slot.release()
    } finally {
      slots.close()
    }

    const scripts = calls.filter(({ name }) => name === name.toLowerCase())
    expect(new Set(scripts.map(({ name }) => name))).toEqual(new Set(scriptNames))
    const crossSlot = calls.filter(({ keys }) => new Set(keys.map(keySlot)).size > 1)
    expect(crossSlot).toEqual([])
  })

  it('computes the slot of every key above as Redis does (CLUSTER KEYSLOT)', async () => {
    const samples = [
      ...new Set(calls.flatMap(({ keys }) => keys)),
      sessionKey('abcd'.padEnd(36, 'x')),
      'plain',
      '{}',
      'a{}b{c}',
      '{a}{b}',
      'x{y',
      'x}y{z}',
      '{😀}',
    ]
    const raw = createClient({ url: cluster.url })
    await raw.connect()
    try {
      const slots = await Promise.all(samples.map((key) => raw.clusterKeySlot(key)))
      expect(samples.map(keySlot)).toEqual(slots)
    } finally {
      raw.destroy()
    }
  })
})
