import { createHash } from 'node:crypto'
import { ErrorReply } from 'redis'
import type { NodeRedisClient } from './connection.js'
import { ReplyDeadlines } from './replies.js'
import { createStreamReader, type StreamReader } from './stream-reader.js'

/**
 * The Redis client the app is written against. Method names and argument shapes follow @upstash/redis,
 * so handlers could run on an edge runtime with that client; here it is a thin facade over node-redis.
 *
 * Values follow Upstash's serialisation: `set` stores strings as they are and anything else as JSON;
 * `get` returns parsed JSON when the stored string is JSON, the string otherwise.
 *
 * It grows one command at a time, as features need them. Every method either resolves with Redis's
 * answer, rejects with {@link RedisUnavailableError} when Redis cannot answer in time (disconnected,
 * reconnecting or hung: there is no offline queue), or rejects with Redis's own error reply.
 */
export interface Redis {
  ping(): Promise<string>
  get<T = unknown>(key: string): Promise<T | null>
  /** GET and set the expiry in one command (GETEX); nothing is created when the key is missing. */
  getex<T = unknown>(key: string, opts: GetExOptions): Promise<T | null>
  set<T = unknown>(key: string, value: T, opts?: SetOptions): Promise<'OK' | null>
  del(...keys: string[]): Promise<number>
  /** A Lua script run by SHA, loaded on first use (EVALSHA, then EVAL on NOSCRIPT), like Upstash's. */
  createScript<TResult = unknown>(source: string): Script<TResult>
  /** A new dedicated connection for blocking stream reads (not Upstash: see StreamReader). Connects on first read. */
  createStreamReader(): StreamReader
}

export interface GetExOptions {
  /** Expire this many seconds from now. */
  ex: number
}

export interface SetOptions {
  /** Expire after this many seconds. */
  ex?: number
  /** Only set the key if it does not exist. */
  nx?: boolean
  /** Only set the key if it already exists. */
  xx?: boolean
}

export interface Script<TResult> {
  readonly sha1: string
  exec(keys: readonly string[], args: readonly string[]): Promise<TResult>
}

function serialize(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function deserialize<T>(raw: string | null): T | null {
  if (raw === null) return null
  try {
    return JSON.parse(raw) as T
  } catch {
    return raw as T
  }
}

export interface FacadeOptions {
  /** The longest a request waits for any one Redis reply (REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs: number
}

export function createRedisFacade(client: NodeRedisClient, { commandTimeoutMs }: FacadeOptions): Redis {
  // Scripts by source, so callers may ask for a script per request without hashing it each time.
  const scripts = new Map<string, Script<unknown>>()
  const deadlines = new ReplyDeadlines(commandTimeoutMs)
  const call = <T>(command: () => Promise<T>) => deadlines.call(command)
  return {
    ping: () => call(() => client.ping()),
    get: async <T>(key: string) => deserialize<T>(await call(() => client.get(key))),
    getex: async <T>(key: string, { ex }: GetExOptions) =>
      deserialize<T>(await call(() => client.getEx(key, { type: 'EX', value: ex }))),
    set: async (key, value, opts = {}) => {
      const reply = await call(() =>
        client.set(key, serialize(value), {
          ...(opts.ex !== undefined && { expiration: { type: 'EX', value: opts.ex } }),
          ...(opts.nx && { condition: 'NX' }),
          ...(opts.xx && { condition: 'XX' }),
        }),
      )
      return reply === null ? null : 'OK'
    },
    del: (...keys) => call(() => client.del(keys)),
    createScript: <TResult>(source: string): Script<TResult> => {
      const known = scripts.get(source)
      if (known) return known as Script<TResult>
      const sha1 = createHash('sha1').update(source).digest('hex')
      const script: Script<TResult> = {
        sha1,
        exec: (keys, args) =>
          call(async () => {
            const options = { keys: [...keys], arguments: [...args] }
            try {
              return (await client.evalSha(sha1, options)) as TResult
            } catch (error) {
              if (!(error instanceof ErrorReply && error.message.startsWith('NOSCRIPT'))) throw error
              return (await client.eval(source, options)) as TResult
            }
          }),
      }
      scripts.set(source, script)
      return script
    },
    createStreamReader: () => createStreamReader(client, commandTimeoutMs),
  }
}
