import type { RedisMode } from '../env.js'
import type { StreamNotifications } from './notified-stream-reader.js'
import type { NodeRedisClient } from './standalone.js'
import type { BlockingConnections } from './stream-reader.js'
import type { WaitConnection } from './wait-connection.js'

/**
 * What the {@link Redis} facade (client.ts) needs from a topology, so that one implementation serves
 * them all: a standalone Redis (standalone.ts), a Sentinel-managed primary (sentinel.ts) and a Redis
 * Cluster (cluster.ts). The commands routed by key are node-redis's own on each: its client, sentinel and
 * cluster expose them alike; what needs a node (PING, HELLO), a connection's state and the live
 * reader's reads differ, and each topology says how.
 */
export type Topology = TopologyBase & (BlockingReads | NotifiedReads)

/** What every topology offers alike. */
export interface TopologyBase {
  readonly mode: RedisMode
  /** The commands the facade sends with a key, routed by node-redis (to the master, or the key's shard). */
  readonly commands: KeyedCommands
  /** The connection of writes that WAIT for replicas: see wait-connection.ts. */
  readonly waitConnection: WaitConnection
  /** PING every master: the one master, or each of a cluster's (which must also say cluster_state:ok). */
  ping(): Promise<string>
  /**
   * HELLO's `role` of every master: 'master' when all say so, else the first other role (a replica
   * after a failover). Undefined when a server does not say.
   */
  role(): Promise<string | undefined>
  /** Whether every master's command connection is usable right now. */
  readonly isReady: boolean
  /** A command connection lost its server (the process logs it, once per distinct error). */
  onError(listener: (error: Error) => void): void
  /** A command connection is ready again after a loss (or the sentinels named a new master). */
  onReady(listener: () => void): void
  /** Waits for pending replies, then closes every connection (the wait connection's too). */
  close(): Promise<void>
  /** Drops every connection at once. */
  destroy(): void
}

/** Standalone and Sentinel: the live reader blocks (XREAD BLOCK) on a dedicated connection to the master. */
export interface BlockingReads {
  /** Dedicated connections for blocking reads, to the master. */
  readonly blocking: BlockingConnections
  readonly notifications?: undefined
}

/**
 * Cluster: announced, non-blocking reads for a live reader whose connections are per shard, not per
 * stream (one blocking XREAD cannot span slots).
 */
export interface NotifiedReads {
  readonly notifications: StreamNotifications
  readonly blocking?: undefined
}

/** The key-routed commands the facade uses; node-redis's cluster and sentinel have the client's signatures. */
export type KeyedCommands = Pick<
  NodeRedisClient,
  'getEx' | 'set' | 'del' | 'pTTL' | 'pExpire' | 'evalSha' | 'eval'
>

/** The role HELLO reports, when it says; any other shape (an old server) is "does not say". */
export function helloRole(reply: unknown): string | undefined {
  if (reply instanceof Map) {
    const role = reply.get('role')
    return typeof role === 'string' ? role : undefined
  }
  if (reply && typeof reply === 'object' && 'role' in reply && typeof reply.role === 'string')
    return reply.role
  return undefined
}

/** The first role of several that is not 'master', else 'master'; undefined only if none says. */
export function combinedRole(roles: readonly (string | undefined)[]): string | undefined {
  return roles.find((role) => role !== undefined && role !== 'master') ?? roles.find((role) => role)
}
