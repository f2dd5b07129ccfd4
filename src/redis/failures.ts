import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  MaxCommandRedirectionsError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis'
import { Deadline } from '../lib/deadline.js'
import { ServiceError } from '../lib/errors.js'

/**
 * Redis could not serve a command in time: disconnected, reconnecting, hung, or answering "not now".
 * It is the dependency's state, not a bug, and it passes: callers may retry shortly.
 */
export class RedisUnavailableError extends ServiceError {
  /** `reason` is for logs only: it may name hosts, so it never reaches a response. */
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('unavailable', 'redis_unavailable', 'Redis is unavailable, retry shortly', options)
    this.name = 'RedisUnavailableError'
  }
}

/** Redis did not answer within `timeoutMs`: connected but hung, or too slow. */
export class RedisTimeoutError extends RedisUnavailableError {
  constructor(readonly timeoutMs: number) {
    super(`no reply within ${timeoutMs} ms`)
    this.name = 'RedisTimeoutError'
  }
}

/**
 * A Redis Cluster whose node says it cannot serve: CLUSTER INFO's cluster_state is not ok (a master is
 * down with no replica to take over, or slots are not covered). Readiness says so.
 */
export class ClusterStateError extends RedisUnavailableError {
  constructor(
    readonly state: string,
    readonly node: string,
  ) {
    super(`the cluster is not ok: cluster_state:${state} at ${node}`)
    this.name = 'ClusterStateError'
  }
}

/**
 * Error replies that mean "not now" rather than "no": Redis is loading its data after a restart, busy
 * with a script, a replica after a failover, out of memory under `noeviction`, refusing writes after a
 * failed snapshot (MISCONF) or for want of replicas, or a cluster in transition (a redirect, MOVED or
 * ASK, only reaches the facade from a pipeline: node-redis follows them for single commands). They pass,
 * so they are an outage like any other, never a bug.
 */
const TRANSIENT_REPLY =
  /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|OOM|MISCONF|NOREPLICAS)\b/

export function isTransientReply(error: unknown): error is ErrorReply {
  return error instanceof ErrorReply && TRANSIENT_REPLY.test(error.message)
}

/** A server at its `maxclients` is full, not refusing: a connection may free up within the budget. */
const FULL_SERVER = /^ERR max number of clients reached/

/**
 * An error reply to a handshake or its PING that no retry changes: WRONGPASS, NOAUTH, NOPERM, a bad
 * SELECT. Startup ends at once on it instead of retrying for the whole budget.
 */
export const isRefusal = (error: unknown): error is ErrorReply =>
  error instanceof ErrorReply && !FULL_SERVER.test(error.message) && !isTransientReply(error)

/**
 * node-redis's ways of saying the connection is not there: offline, closed, timed out, reconnecting; and
 * a cluster's topology in motion: redirected (MOVED) more often than it allows, or no node to rediscover
 * the slots from.
 */
const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  MaxCommandRedirectionsError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
]

/**
 * node-redis's sentinel client throws plain errors while it finds the master again during a failover
 * (lib/sentinel/index.js): they are the topology's state, like a lost connection.
 */
const SENTINEL_FAILOVER_ERROR = /^(None of the sentinels are available|no valid master node)/

/** A lost connection: one of node-redis's errors, or the socket's own (ECONNRESET, EPIPE: it has a syscall). */
function isConnectionError(error: unknown): boolean {
  return (
    CONNECTION_ERRORS.some((type) => error instanceof type) ||
    (error instanceof Error && ('syscall' in error || SENTINEL_FAILOVER_ERROR.test(error.message)))
  )
}

/**
 * Classifies a failed command. An error reply (WRONGTYPE, a script's error, ...) is Redis answering: it
 * passes through, unless it is transient (above). A lost connection (offline while reconnecting: there
 * is no offline queue; the socket closed with the command in flight) means Redis did not answer:
 * {@link RedisUnavailableError}. Anything else is a bug in the caller and passes through, to be a 500
 * with its stack in the log rather than an "outage".
 */
function redisFailure(error: unknown): unknown {
  if (error instanceof RedisUnavailableError) return error
  if (error instanceof ErrorReply ? !isTransientReply(error) : !isConnectionError(error)) return error
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new RedisUnavailableError(reason, { cause: error })
}

/** Bounds Redis replies by `timeoutMs`, with failures classified as above. */
export const replyDeadline = (timeoutMs: number) =>
  new Deadline(timeoutMs, { expired: (ms) => new RedisTimeoutError(ms), failed: redisFailure })
