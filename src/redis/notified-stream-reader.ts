import { replyDeadline } from './failures.js'
import { keys } from './keys.js'
import type { LiveReaderStats } from './stats.js'
import { readyWaiters, type StreamCursor, type StreamReader, type StreamReadReply } from './stream-reader.js'

/**
 * What a {@link createNotifiedStreamReader} needs from a Redis Cluster: non-blocking reads routed by key,
 * and shard channels (SSUBSCRIBE), which node-redis serves over one connection per master, whatever the
 * number of channels.
 */
export interface StreamNotifications {
  /** A non-blocking XREAD (`command`), sent to the master of `firstKey`'s slot. */
  read(firstKey: string, command: readonly string[]): Promise<unknown>
  /** SSUBSCRIBE `channel`; `listener` is called on each message. */
  subscribe(channel: string, listener: () => void): Promise<void>
  /** SUNSUBSCRIBE `channel` (node-redis closes a shard's connection once it has no channel left). */
  unsubscribe(channel: string): Promise<void>
  /** Every master's command connection, and every shard connection open, is usable right now. */
  readonly isReady: boolean
  /** A connection (command or shard) is ready again after a loss. */
  onReady(listener: () => void): void
  /**
   * The subscription to `channel` is gone and was not made again: its slot moved to another master
   * and the client could not move it there (node-redis's 'sharded-channel-moved-error').
   */
  onSubscriptionLost(listener: (channel: string) => void): void
}

/**
 * The live reader on a Redis Cluster, where one XREAD cannot span streams of several slots and one
 * blocking connection per buffer or per slot would break the connection budget (doc/architecture.md,
 * "Per-shard reader"). Writers of a followed stream announce new entries on its shard channel (see
 * buffer-append.lua, revocation-announce.lua); this reader subscribes to the channels of the streams it
 * is asked for, and a read waits for an announcement, then reads the announced streams with
 * non-blocking XREADs, one per hash tag (each tag is one slot), concurrently.
 *
 * An announcement only says when to read; the cursors say from where. So a lost announcement (a shard
 * connection that reconnects, a subscription racing an append, a slot moving to another master, whose
 * new master announces to nobody until the subscription follows it) delays delivery, never loses an item:
 * every stream is read in full after a reconnect, when first followed, and at least every `blockMs`,
 * however often other streams are announced (the safety net: one read per stream each `blockMs`).
 */
export function createNotifiedStreamReader(
  notifications: StreamNotifications,
  commandTimeoutMs: number,
  stats?: LiveReaderStats,
): StreamReader {
  const replies = replyDeadline(commandTimeoutMs)
  // Channel -> its stream, for every subscription made (or being made).
  const followed = new Map<string, string>()
  // Streams announced since they were last read.
  const announced = new Set<string>()
  // Every followed stream is due a read: at first, after a reconnect (announcements may have been lost).
  let readAll = true
  // When every followed stream was last read (performance.now()): the safety net reads them all again
  // each `blockMs`, also while other streams' announcements keep every wait short.
  let fullReadAt = 0
  let wakeRequested = false
  let inRead = false
  let awaken: (() => void) | undefined
  const awaitingReady = readyWaiters()

  const onMessage = (stream: string) => () => {
    announced.add(stream)
    awaken?.()
  }
  notifications.onReady(() => {
    readAll = true
    awaitingReady.resolveAll()
    awaken?.()
  })
  // Forgotten, so the next read subscribes again (on the slot's new master), and reads everything:
  // announcements made meanwhile went nowhere.
  notifications.onSubscriptionLost((channel) => {
    if (!followed.delete(channel)) return
    readAll = true
    awaken?.()
  })

  /** Subscribes to the channels of `streams` not yet followed; drops the others. */
  const follow = async (streams: readonly StreamCursor[]): Promise<Set<string>> => {
    const wanted = new Map(streams.map(({ key }) => [keys.streamNotifications(key), key]))
    const added = new Set<string>()
    const subscribing: Promise<void>[] = []
    for (const [channel, stream] of wanted) {
      if (followed.has(channel)) continue
      followed.set(channel, stream)
      added.add(stream)
      subscribing.push(
        notifications.subscribe(channel, onMessage(stream)).catch((error: unknown) => {
          followed.delete(channel) // tried again on the next read
          throw error
        }),
      )
    }
    for (const [channel, stream] of followed) {
      if (wanted.has(channel)) continue
      followed.delete(channel)
      announced.delete(stream)
      // Best effort: a subscription left behind only costs a wasted announcement now and then.
      notifications.unsubscribe(channel).catch(() => {})
    }
    await replies.within(() => Promise.all(subscribing))
    return added
  }

  /** Non-blocking XREADs of `streams`, one per hash tag, at once; null when none had entries. */
  const readNow = async (
    streams: readonly StreamCursor[],
    count: number,
  ): Promise<StreamReadReply | null> => {
    const byTag = new Map<string, StreamCursor[]>()
    for (const cursor of streams) {
      const tag = hashTag(cursor.key)
      const group = byTag.get(tag)
      if (group) group.push(cursor)
      else byTag.set(tag, [cursor])
    }
    const replied = await replies.within(() =>
      Promise.all(
        [...byTag.values()].map((group) => {
          const command = ['XREAD', 'COUNT', String(count), 'STREAMS']
          for (const { key } of group) command.push(key)
          for (const { id } of group) command.push(id)
          return notifications.read(group[0]?.key as string, command) as Promise<StreamReadReply | null>
        }),
      ),
    )
    let merged: StreamReadReply | null = null
    for (const reply of replied) {
      if (!reply) continue
      merged ??= {}
      for (const [key, entries] of Object.entries(reply)) {
        merged[key] = entries
        // A full page may not be all: read it again without waiting for another announcement.
        if (entries.length >= count) announced.add(key)
      }
    }
    return merged
  }

  /** Waits for an announcement, a wake() or `ms`, whichever comes first: true when the time ran out. */
  const wait = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(true), ms)
      const done = (timedOut: boolean) => {
        clearTimeout(timer)
        awaken = undefined
        resolve(timedOut)
      }
      awaken = () => done(false)
    })

  /**
   * Reads the cursors of `streams` that are due: every one when `all` (first read, after a reconnect or a
   * failure, the safety net), else those announced and those just followed (`added`). Null when none
   * had entries. A failed read sets `readAll`, so nothing announced is forgotten.
   */
  const readDue = (
    streams: readonly StreamCursor[],
    count: number,
    all: boolean,
    added?: ReadonlySet<string>,
  ) => {
    const reading = streams.filter(({ key }) => all || added?.has(key) || announced.has(key))
    for (const { key } of reading) announced.delete(key)
    return reading.length === 0 ? Promise.resolve(null) : readNow(reading, count)
  }

  return {
    get ready() {
      return notifications.isReady
    },
    async read(streams, { blockMs, count }) {
      inRead = true
      wakeRequested = false
      try {
        const added = await follow(streams)
        const all = readAll || (blockMs > 0 && performance.now() - fullReadAt >= blockMs)
        readAll = false
        if (all) fullReadAt = performance.now()
        let reply = await readDue(streams, count, all, added)
        if (!reply && blockMs > 0 && !wakeRequested && announced.size === 0) {
          // Until an announcement, or until every stream is due its read again.
          const timedOut = await wait(fullReadAt + blockMs - performance.now())
          if (!wakeRequested) {
            const readEvery = timedOut || readAll
            readAll = false
            if (readEvery) fullReadAt = performance.now()
            reply = await readDue(streams, count, readEvery)
          }
        }
        if (stats) stats.liveReads[reply ? 'items' : 'empty']++
        return reply
      } catch (error) {
        readAll = true
        if (stats) stats.liveReads.error++
        throw error
      } finally {
        inRead = false
      }
    },
    wake() {
      if (!inRead) return
      wakeRequested = true
      awaken?.()
    },
    reconnected: awaitingReady.wait,
    destroy() {
      for (const channel of followed.keys()) notifications.unsubscribe(channel).catch(() => {})
      followed.clear()
      wakeRequested = true
      awaken?.()
      awaitingReady.resolveAll()
    },
  }
}

/** The part of `key` Redis Cluster hashes (its first `{...}`, if not empty), so equal tags share a slot. */
function hashTag(key: string): string {
  const open = key.indexOf('{')
  if (open < 0) return key
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : key
}
