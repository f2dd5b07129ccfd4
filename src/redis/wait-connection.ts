import { ClientClosedError } from 'redis'

/**
 * The connection of writes that WAIT for replicas (REDIS_APPEND_WAIT_REPLICAS). WAIT blocks the connection
 * it runs on until the replicas answer, up to its timeout: on the command connection every session read,
 * rate limit and readiness PING queued behind it would wait too, and a lagging replica would slow the whole
 * service, readiness included. So these writes get a connection of their own, per topology (a duplicate of
 * the client, the sentinel client or the cluster client, so it follows failovers and slots as they do),
 * opened on first use: a service that never waits opens none.
 */
export interface WaitConnection {
  /**
   * Sends `commands` in one write on this connection, to the master serving `key`, and resolves with
   * their replies in order (a pipeline, not a transaction): what must run on the connection of the
   * commands before it, as WAIT must, goes here. node-redis retries a pipeline as a whole, on one
   * connection, when the sentinels name a new master. The first error reply, if any, rejects it.
   */
  pipeline(key: string, commands: readonly (readonly string[])[]): Promise<unknown[]>
  /** Waits for pending replies, then closes the connection, if it was opened. */
  close(): Promise<void>
  /** Drops the connection at once, if it was opened. */
  destroy(): void
}

/** A node-redis client, sentinel client or cluster client: a duplicate of the topology's. */
export interface OwnConnection {
  readonly isReady: boolean
  connect(): Promise<unknown>
  close(): Promise<unknown>
  destroy(): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * A {@link WaitConnection} over the connection `duplicate` makes, opened on the first pipeline, each
 * pipeline sent by `send`. A first connect that fails is dropped, so that the next pipeline tries again;
 * until then pipelines wait for it (the caller's deadline bounds them: REDIS_COMMAND_TIMEOUT_MS).
 */
export function waitConnection<Own extends OwnConnection>(
  duplicate: () => Own,
  send: (own: Own, key: string, commands: readonly (readonly string[])[]) => Promise<unknown[]>,
): WaitConnection {
  let own: Own | undefined
  let connected: Promise<unknown> | undefined
  let closed = false
  // The sentinel client's destroy returns a promise; the others' nothing.
  const destroy = (connection: Own) => void Promise.resolve(connection.destroy()).catch(() => {})
  const opened = (): Promise<unknown> => {
    if (connected) return connected
    const connection = duplicate()
    // Failures surface through the pipelines; node-redis reconnects on its own (capped backoff).
    connection.on('error', () => {})
    own = connection
    connected = connection.connect().catch((error: unknown) => {
      destroy(connection)
      if (own === connection) {
        own = undefined
        connected = undefined
      }
      throw error
    })
    return connected
  }
  return {
    async pipeline(key, commands) {
      // node-redis's own error for a closed client: an outage (a 503), like any command after close.
      if (closed) throw new ClientClosedError()
      await opened()
      if (!own) throw new ClientClosedError()
      return send(own, key, commands)
    },
    async close() {
      closed = true
      // Waits for pending replies when connected; drops the connection at once otherwise.
      if (own?.isReady) await own.close()
      else if (own) destroy(own)
    },
    destroy() {
      closed = true
      if (own) destroy(own)
    },
  }
}

/**
 * `commands` added to node-redis's `multi` by `add` (its clients differ in addCommand's arguments: the
 * sentinel's takes isReadonly first, the cluster's a key too), then sent as one pipeline.
 */
export function pipelined<Multi extends { execAsPipeline(): Promise<unknown> }>(
  multi: Multi,
  commands: readonly (readonly string[])[],
  add: (multi: Multi, command: string[]) => void,
): Promise<unknown[]> {
  for (const command of commands) add(multi, [...command])
  return multi.execAsPipeline() as Promise<unknown[]>
}
