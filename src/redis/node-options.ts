import { createClient } from 'redis'
import { type Env, type RedisNodeAddress, splitRedisUrls } from '../env.js'
import { backoffDelay } from '../lib/backoff.js'

/**
 * How every node-redis connection the service opens is configured, whatever the topology: the
 * credentials and database of REDIS_URL, TLS (rediss://, REDIS_TLS_CA_FILE, REDIS_TLS_SERVERNAME), the
 * timeouts, and no offline queue. standalone.ts, sentinel.ts and cluster.ts build their clients from it.
 */

export type RedisSettings = Pick<
  Env,
  | 'redisUrl'
  | 'redisMode'
  | 'redisSentinels'
  | 'redisSentinelName'
  | 'redisSentinelUsername'
  | 'redisSentinelPassword'
  | 'redisTlsCa'
  | 'redisTlsServername'
  | 'redisCommandTimeoutMs'
  | 'redisConnectTimeoutMs'
>

/** The socket part of a node-redis client's options: plain TCP, or TLS with its own options. */
export type SocketOptions = {
  host?: string
  port?: number
  connectTimeout: number
  reconnectStrategy: false | ((retries: number) => number)
} & ({ tls?: false } | { tls: true; ca?: string; servername?: string })

/** What every node-redis client of the service shares, wherever it connects. */
export interface NodeClientOptions {
  username?: string
  password?: string
  database?: number
  disableOfflineQueue: true
  socket: SocketOptions
}

/** One parsed REDIS_URL (or one of a cluster's seeds). */
export interface RedisEndpoint extends RedisNodeAddress {
  readonly tls: boolean
  readonly username: string | undefined
  readonly password: string | undefined
  readonly database: number | undefined
}

/** REDIS_URL's URLs, parsed (env.ts has validated them). */
export function redisEndpoints(redisUrl: string): RedisEndpoint[] {
  return splitRedisUrls(redisUrl).map((raw) => {
    const url = new URL(raw)
    const tls = url.protocol === 'rediss:'
    const database = url.pathname.replace('/', '')
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? 6379 : Number(url.port),
      tls,
      username: url.username === '' ? undefined : decodeURIComponent(url.username),
      password: url.password === '' ? undefined : decodeURIComponent(url.password),
      database: database === '' ? undefined : Number(database),
    }
  })
}

/**
 * The socket options of a connection: TLS with the private CA and the expected server name when
 * configured (Node verifies the certificate's chain and name by default; REDIS_TLS_SERVERNAME replaces
 * the host in that check, for servers reached by IP), and the timeouts. Reconnects back off up to a
 * second, forever: a connection that drops, as Upstash's idle ones do, is routine.
 */
export function socketOptions(settings: RedisSettings, tls: boolean): SocketOptions {
  const common = {
    // node-redis's connect timeout is per attempt; startup's budget bounds the attempts as a whole.
    connectTimeout: Math.max(settings.redisCommandTimeoutMs, 1000),
    reconnectStrategy: backoffDelay,
  }
  if (!tls) return common
  return {
    ...common,
    tls: true,
    ...(settings.redisTlsCa !== undefined && { ca: settings.redisTlsCa }),
    ...(settings.redisTlsServername !== undefined && { servername: settings.redisTlsServername }),
  }
}

/**
 * node-redis's per-command timeout (5 s by default) stops counting once a command is written, so it
 * cannot bound a hung Redis, and it costs an AbortSignal per command: off, on the client, the sentinel and
 * the cluster alike. The facade bounds every reply instead (see createRedisClient).
 */
export const COMMAND_OPTIONS = { timeout: 0 } as const

/** The options of a client to a data node, with `endpoint`'s credentials and database. */
export function nodeClientOptions(
  settings: RedisSettings,
  { tls, username, password, database }: Omit<RedisEndpoint, 'host' | 'port'>,
): NodeClientOptions {
  return {
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
    ...(database !== undefined && { database }),
    // Without this, commands issued while reconnecting wait in a queue: requests would hang, not 503.
    disableOfflineQueue: true,
    socket: socketOptions(settings, tls),
  }
}

type ProbeOptions = Omit<NodeClientOptions, 'socket' | 'disableOfflineQueue'> & { socket: SocketOptions }

const createProbeTemplate = (options: ProbeOptions) => createClient(options)

/** A connection made by {@link probeConnections}. */
export type ProbeClient = ReturnType<typeof createProbeTemplate>

/** Connects to `address` once (no reconnect), or rejects with why it could not. */
export type ProbeConnect = (address: RedisNodeAddress) => Promise<ProbeClient>

/**
 * Opens short-lived connections with `options` to one address after another (startup's questions to the
 * sentinels and the seed nodes), each made once and never reconnected. They are duplicates of one
 * client: node-redis's createClient builds its command class anew for every distinct set of options
 * (an address is one), tens of ms of CPU each with the `redis` package's modules, which startup's retries
 * would pay many times over.
 */
export function probeConnections(options: ProbeOptions): ProbeConnect {
  const template = createProbeTemplate(options)
  return async ({ host, port }) => {
    const client = template.duplicate({ socket: { ...options.socket, host, port, reconnectStrategy: false } })
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (error) {
      client.destroy()
      throw error
    }
    return client
  }
}
