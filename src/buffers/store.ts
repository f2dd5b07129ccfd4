import { ServiceError } from '../lib/errors.js'
import type { RedisCommands, Replicated, ReplicatedScripts, ReplicaWait, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'
import type { RawStreamEntry } from '../redis/stream-reader.js'
import { type BufferItem, toBufferItem } from './items.js'

export type ResetReason = 'trimmed' | 'deleted' | 'ahead'

export interface Reset {
  reason: ResetReason
  /** The oldest retained id, where the items that follow start; null when the buffer is empty. */
  oldestId: string | null
}

/** Where a read starts: after an id (with the reset rule), at the oldest retained item, or nowhere. */
export type ReadFrom = { after: string } | 'oldest' | 'newest'

export interface Page {
  items: BufferItem[]
  /** Set when the caller cannot have everything after its id; `items` then start at the oldest. */
  reset: Reset | null
  /** The newest id in the buffer at the time of the read, null when it does not exist. */
  newestId: string | null
}

export interface BufferInfo {
  length: number
  firstId: string
  lastId: string
}

export interface NewItem {
  event: string
  /** JSON text. */
  data: string
}

type ReadReply = [ResetReason | null, string | null, string | null, RawStreamEntry[]]

/** REDIS_APPEND_WAIT_REPLICAS: appends are acknowledged once `wait.replicas` replicas hold them. */
export interface AppendReplication {
  scripts: ReplicatedScripts
  wait: ReplicaWait
}

/**
 * Fewer replicas than REDIS_APPEND_WAIT_REPLICAS confirmed an append within REDIS_APPEND_WAIT_TIMEOUT_MS.
 * The primary has stored it (and may still replicate it, or lose it in a failover), so it is not
 * acknowledged: a 503, after which a retry may store the items twice.
 */
export class ReplicationTimeoutError extends ServiceError {
  constructor(
    readonly confirmed: number,
    readonly wanted: number,
  ) {
    super(
      'unavailable',
      'replication_timeout',
      `The items were stored on the Redis primary, but only ${confirmed} of ${wanted} replicas confirmed them in time; a retry may store them twice`,
    )
    this.name = 'ReplicationTimeoutError'
  }
}

/**
 * Buffers in Redis, one stream per buffer. Every operation is one atomic round trip (a Lua script),
 * which is what makes a batch all-or-nothing and the reset rule exact under concurrent appends.
 * Built once per app; it loads its own scripts (src/redis/scripts/buffer-*.lua).
 */
export class BufferStore {
  readonly #append: Script<string[]>
  /** Set when appends wait for replicas; then it runs instead of `#append`. */
  readonly #replicatedAppend: { script: Script<Replicated<string[]>>; replicas: number } | undefined
  readonly #read: Script<ReadReply>
  readonly #info: Script<[number, string, string] | null>
  readonly #delete: Script<number>

  /**
   * `maxLen`: BUFFER_MAX_LEN, the most items a buffer keeps. `replication`: when its `wait.replicas` is
   * above 0, an append resolves only once that many replicas confirm it.
   */
  constructor(
    redis: RedisCommands,
    private readonly maxLen: number,
    replication?: AppendReplication,
  ) {
    const append = readLuaScript('buffer-append')
    this.#append = redis.createScript(append)
    this.#replicatedAppend =
      replication && replication.wait.replicas > 0
        ? {
            script: replication.scripts.createReplicatedScript(append, replication.wait),
            replicas: replication.wait.replicas,
          }
        : undefined
    this.#read = redis.createScript(readLuaScript('buffer-read'))
    this.#info = redis.createScript(readLuaScript('buffer-info'))
    this.#delete = redis.createScript(readLuaScript('buffer-delete'))
  }

  /**
   * Resolves with the ids once Redis has stored every item, or stores none; with replication, once the
   * replicas asked for confirm them too, else rejects with ReplicationTimeoutError (they are stored).
   */
  async append(name: string, items: readonly NewItem[]): Promise<string[]> {
    const stream = keys.bufferItems(name)
    const args = [keys.streamNotifications(stream), String(this.maxLen)]
    for (const { event, data } of items) args.push(event, data)
    const scriptKeys = [stream, keys.bufferMeta(name)]
    if (!this.#replicatedAppend) return this.#append.exec(scriptKeys, args)
    const { script, replicas } = this.#replicatedAppend
    const stored = await script.exec(scriptKeys, args)
    if (stored.replicas < replicas) throw new ReplicationTimeoutError(stored.replicas, replicas)
    return stored.reply
  }

  async read(name: string, from: ReadFrom, limit: number): Promise<Page> {
    const where = from === 'oldest' ? '-' : from === 'newest' ? '$' : from.after
    const [reason, oldestId, newestId, entries] = await this.#read.exec(keyPair(name), [where, String(limit)])
    return {
      items: entries.map(toBufferItem),
      reset: reason ? { reason, oldestId } : null,
      newestId,
    }
  }

  async info(name: string): Promise<BufferInfo | null> {
    const reply = await this.#info.exec([keys.bufferItems(name)], [])
    return reply && { length: reply[0], firstId: reply[1], lastId: reply[2] }
  }

  /** True when there was a buffer to delete. */
  async delete(name: string): Promise<boolean> {
    return (await this.#delete.exec(keyPair(name), [])) === 1
  }
}

const keyPair = (name: string) => [keys.bufferItems(name), keys.bufferMeta(name)]
