import type { Deadline } from '../lib/deadline.js'
import { RedisUnavailableError, replyDeadline } from './failures.js'
import type { LiveReaderStats } from './stats.js'

/** One stream entry as Redis returns it: the id and a flat field, value list. */
export type RawStreamEntry = [id: string, fields: string[]]

/** New entries per stream key; only keys that had any. */
export type StreamReadReply = Record<string, RawStreamEntry[]>

export interface StreamCursor {
  key: string
  /** Entries strictly after this id are returned. */
  id: string
}

/**
 * A dedicated connection for blocking stream reads (XREAD BLOCK), which would otherwise hold the
 * connection every request shares. One per app, whatever the number of readers it serves.
 * Not an Upstash method: Upstash's REST transport has no blocking commands.
 */
export interface StreamReader {
  /**
   * XREAD COUNT `count` BLOCK `blockMs` over `streams`. Resolves with the new entries, or null when
   * `blockMs` passed (or {@link wake} was called) without any; `blockMs` 0 does not block (an XREAD
   * without BLOCK, answered at once: Redis's BLOCK 0 would block forever). Rejects with RedisUnavailableError while
   * disconnected, and when no reply comes within `blockMs` plus the command timeout: the connection
   * is then presumed hung, dropped, and opened afresh on the next read.
   */
  read(
    streams: readonly StreamCursor[],
    options: { blockMs: number; count: number },
  ): Promise<StreamReadReply | null>
  /**
   * Ends a read in flight at once (CLIENT UNBLOCK from the command connection), e.g. to add a stream;
   * a read not yet blocking returns null instead of blocking on streams that are out of date.
   */
  wake(): void
  /**
   * Resolves when the connection is next ready (node-redis's 'ready': connected and handshaken again
   * after a loss), or after `maxMs`, whichever comes first: a caller retrying a failed read then waits
   * no longer than it takes the connection to come back. A connection that is up, or dropped, never
   * gets ready again: then it is `maxMs`.
   */
  reconnected(maxMs: number): Promise<void>
  /** Whether the dedicated connection is up right now (or still within its first attempt). */
  readonly ready: boolean
  /** Drops the connection at once; a read in flight rejects. `close()` would wait for the block to end. */
  destroy(): void
}

/**
 * A dedicated connection for blocking reads, as a topology opens one (see {@link BlockingConnections}):
 * node-redis's client and sentinel connections, behind the few operations the reader uses.
 */
export interface BlockingConnection {
  /** Connected and handshaken right now. */
  readonly isReady: boolean
  /** Called on every (re)connection, the first included. */
  onReady(listener: () => void): void
  /** Opens the connection; node-redis then reconnects on its own after a loss. */
  connect(): Promise<unknown>
  /** Drops the connection at once; a command in flight rejects. */
  destroy(): void
  /** CLIENT ID of the current socket (a reconnect gets a new one). */
  clientId(): Promise<number>
  /** A raw command on this connection (XREAD). */
  send(command: readonly string[]): Promise<unknown>
  /** CLIENT UNBLOCK of connection `id`, sent from a command connection to the same node. */
  unblock(id: number): Promise<unknown>
}

/**
 * Where a topology opens blocking connections: a standalone Redis, or the master a Sentinel set names.
 * (A cluster's live reader blocks on nothing: see notified-stream-reader.ts.)
 */
export interface BlockingConnections {
  /** A new, not yet connected, dedicated connection to the master. */
  open(): BlockingConnection
}

/** `stats`: where the reader counts its reconnects and its reads' outcomes (src/redis/stats.ts). */
export function createStreamReader(
  connections: BlockingConnections,
  commandTimeoutMs: number,
  stats?: LiveReaderStats,
): StreamReader {
  // Every 'ready' but the reader's first is a reconnect, a fresh connection after a drop included.
  let everReady = false
  const countReady = () => {
    if (everReady && stats) stats.reconnects.live_reader++
    everReady = true
  }
  let connection: BlockingConnection | undefined
  // CLIENT ID of the current socket, for CLIENT UNBLOCK; a reconnect gets a new one.
  let connectionId: number | undefined
  // A read() is under way; its XREAD has been sent; a wake() came before it was.
  let inRead = false
  let blocking = false
  let wakeRequested = false

  // A fresh connection's first attempt: for up to the command timeout, reads wait for it and it
  // counts as ready, so opening the reader (first subscriber, or after dropping a hung connection)
  // never shows as a failure in readiness; past that, it is a failure like any other.
  let opening: Promise<unknown> | undefined
  let openingUntil = 0

  const awaitingReady = readyWaiters()
  const readyAgain = awaitingReady.resolveAll

  const replies = replyDeadline(commandTimeoutMs)
  // A blocking read's reply may take its block time on top; one deadline per block time asked for.
  const blockedReplies = new Map<number, Deadline>()
  const blockedReplyDeadline = (blockMs: number) => {
    let deadline = blockedReplies.get(blockMs)
    if (!deadline) {
      deadline = replyDeadline(blockMs + commandTimeoutMs)
      blockedReplies.set(blockMs, deadline)
    }
    return deadline
  }

  /** The connection for a read: the current one, or a new one after a drop (or at first). */
  const current = (): BlockingConnection => {
    if (connection) return connection
    const opened = connections.open()
    opened.onReady(countReady)
    opened.onReady(() => {
      connectionId = undefined
      readyAgain()
    })
    // Failures surface through read(); node-redis reconnects on its own (capped backoff).
    opening = opened.connect().catch(() => {})
    openingUntil = performance.now() + commandTimeoutMs
    connection = opened
    return opened
  }

  const drop = () => {
    const dropped = connection
    connection = undefined
    connectionId = undefined
    dropped?.destroy() // idempotent
  }

  return {
    get ready() {
      if (!connection) return false
      return connection.isReady || (opening !== undefined && performance.now() < openingUntil)
    },
    async read(streams, { blockMs, count }) {
      inRead = true
      wakeRequested = false
      let client: BlockingConnection | undefined
      try {
        if (streams.length === 0) throw new TypeError('a stream read needs at least one stream')
        client = current()
        const reading = client
        if (!reading.isReady && opening) {
          const first = opening
          await replies.within(() => first).catch(() => {})
          opening = undefined
        }
        if (!reading.isReady) throw new RedisUnavailableError('stream reader connection is not ready')
        connectionId ??= await replies.within(() => reading.clientId())
        // Woken while getting here: the caller's set of streams changed, so it should ask again.
        if (wakeRequested) return null
        const command = ['XREAD', 'COUNT', String(count)]
        if (blockMs > 0) command.push('BLOCK', String(blockMs))
        command.push('STREAMS')
        for (const { key } of streams) command.push(key)
        for (const { id } of streams) command.push(id)
        blocking = true
        const reply = (await blockedReplyDeadline(blockMs).within(() =>
          reading.send(command),
        )) as StreamReadReply | null
        if (stats) stats.liveReads[reply ? 'items' : 'empty']++
        return reply
      } catch (error) {
        if (stats) stats.liveReads.error++
        if (error instanceof RedisUnavailableError && client?.isReady) drop()
        throw error
      } finally {
        inRead = false
        blocking = false
      }
    },
    wake() {
      if (!inRead) return
      if (!blocking || connectionId === undefined) {
        wakeRequested = true
        return
      }
      // Best effort: where CLIENT UNBLOCK is not allowed, the block still ends within blockMs.
      connection?.unblock(connectionId).catch(() => {})
    },
    reconnected: awaitingReady.wait,
    destroy() {
      drop()
      readyAgain()
    },
  }
}

/** Callers of a reader's reconnected(): each waits until {@link resolveAll} or its own `maxMs`. */
export function readyWaiters() {
  const waiting = new Set<() => void>()
  return {
    wait(maxMs: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          waiting.delete(done)
          resolve()
        }
        const timer = setTimeout(done, maxMs)
        waiting.add(done)
      })
    },
    resolveAll(): void {
      for (const resolve of waiting) resolve()
    },
  }
}
