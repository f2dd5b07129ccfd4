import { crc32 } from 'node:zlib'
import { BEFORE_ALL } from '../ids.js'

/**
 * The cursor of a stream that follows several buffers: one SSE event id that names every followed
 * buffer's last delivered item id, so that a reconnecting EventSource's Last-Event-ID resumes each of
 * them exactly. See doc/architecture.md, "Several buffers over one stream", for the format.
 *
 * Bytes, then base64url without padding:
 *
 * - the format's version, 1;
 * - `base`: the largest ms part among the positions (0 when every position is `0-0`), a varint;
 * - per buffer, in the set's order (names sorted): `0` for `0-0`, else `base - ms + 1` and then `seq`,
 *   both varints (LEB128: 7 bits a byte, least significant first). Ids a busy stream delivers are close
 *   together, so each costs a few bytes instead of the 15 to 41 characters of its text;
 * - a CRC-32 (big-endian) of the bytes before it, seeded with the CRC-32 of the sorted names joined by
 *   line feeds: a cursor of another set of buffers, or a damaged one, fails it.
 *
 * A cursor grants nothing (access is checked per buffer on every request) and names only positions a
 * client could ask for anyway (Last-Event-ID, `?after=`), so it carries a checksum, not a MAC: no key
 * to keep, share between replicas or rotate.
 */
const VERSION = 1
/** Per buffer at most two varints of 10 bytes; the version, the base and the checksum around them. */
const MAX_BYTES_PER_BUFFER = 20
const FIXED_BYTES = 1 + 10 + 4
const UINT64_MAX = 2n ** 64n - 1n
const BASE64URL = /^[A-Za-z0-9_-]+$/
/** Decimal parts of up to 15 digits are exact as JavaScript numbers, differences and doubles included. */
const SAFE_DIGITS = 15

/**
 * A set of buffers followed over one stream: the names, sorted and distinct, and the encoding of its
 * cursors.
 */
export class BufferSet {
  /** Sorted by code unit (names are ASCII), without repeats: the order of the cursor's positions. */
  readonly names: readonly string[]
  /** The names joined by line feeds: equal for two sets of the same buffers. */
  readonly key: string
  readonly #seed: number

  constructor(names: Iterable<string>) {
    this.names = [...new Set(names)].sort()
    this.key = this.names.join('\n')
    this.#seed = crc32(this.key)
  }

  /** A cursor at `positions` (canonical item ids, one per name in {@link names}' order). */
  cursor(positions: readonly string[]): SetCursor {
    return new SetCursor(this.#seed, positions)
  }

  /**
   * The positions `text` names, or null when it is not a cursor of this set: malformed, damaged, made
   * for another set of buffers, or not in the canonical form {@link SetCursor.text} writes.
   */
  decode(text: string): string[] | null {
    const count = this.names.length
    if (text.length > Math.ceil((maxBytes(count) * 4) / 3) || !BASE64URL.test(text)) return null
    const bytes = Buffer.from(text, 'base64url')
    if (bytes.length < 6) return null
    const body = bytes.subarray(0, bytes.length - 4)
    if (bytes.readUInt32BE(body.length) !== crc32(body, this.#seed) || body[0] !== VERSION) return null
    const reader = { bytes: body, at: 1 }
    const base = readVarint(reader)
    if (base === null) return null
    const positions: string[] = []
    for (let i = 0; i < count; i++) {
      const delta = readVarint(reader)
      if (delta === null) return null
      if (delta === 0n) {
        positions.push(BEFORE_ALL)
        continue
      }
      const seq = readVarint(reader)
      const ms = base - delta + 1n
      if (seq === null || ms < 0n) return null
      positions.push(`${ms}-${seq}`)
    }
    if (reader.at !== body.length) return null
    // One text per set of positions: anything else (padding bits, overlong varints, another base) was
    // not written by this service.
    return this.cursor(positions).text() === text ? positions : null
  }
}

const maxBytes = (count: number) => FIXED_BYTES + MAX_BYTES_PER_BUFFER * count

/**
 * One stream's position in every buffer of its set, moved as its items go out. Each id is parsed once,
 * when it is moved to, so that encoding after every event costs no parsing of the others: it runs for
 * every event of every such stream.
 */
export class SetCursor {
  readonly #seed: number
  readonly #scratch: Buffer
  readonly #ids: string[]
  // The parts of each position as numbers; ms -1 for 0-0, below every id Redis issues.
  readonly #ms: Float64Array
  readonly #seq: Float64Array
  // Positions with a part beyond 15 digits (only a client's ids can be that large): written with bigints.
  #big = 0
  // The text of the current positions, made at most once between moves.
  #text: string | undefined

  constructor(seed: number, positions: readonly string[]) {
    this.#seed = seed
    this.#scratch = Buffer.allocUnsafe(maxBytes(positions.length))
    this.#ids = positions.map(() => BEFORE_ALL)
    this.#ms = new Float64Array(positions.length).fill(-1)
    this.#seq = new Float64Array(positions.length)
    for (const [index, id] of positions.entries()) this.move(index, id)
  }

  /** Position `index` is now canonical item id `id`. */
  move(index: number, id: string): void {
    this.#text = undefined
    if (isBig(this.#ids[index] as string)) this.#big--
    this.#ids[index] = id
    if (isBig(id)) {
      this.#big++
      return
    }
    const dash = id.indexOf('-')
    this.#ms[index] = id === BEFORE_ALL ? -1 : Number(id.slice(0, dash))
    this.#seq[index] = Number(id.slice(dash + 1))
  }

  /**
   * Moves position `index` to `id` as another cursor of the same set made the same move from the same
   * text: `after` is that cursor's text after it, which the positions determine, so it is not made again.
   */
  moveAs(index: number, id: string, after: string): void {
    this.move(index, id)
    this.#text = after
  }

  /** The cursor as an event id. */
  text(): string {
    this.#text ??= this.#encode()
    return this.#text
  }

  #encode(): string {
    const out = this.#scratch
    out[0] = VERSION
    const end = this.#big > 0 ? this.#writeExact(out) : this.#write(out)
    out.writeUInt32BE(crc32(out.subarray(0, end), this.#seed), end)
    return out.toString('base64url', 0, end + 4)
  }

  #write(out: Buffer): number {
    const ms = this.#ms
    const seq = this.#seq
    let base = 0
    for (let i = 0; i < ms.length; i++) if ((ms[i] as number) > base) base = ms[i] as number
    let at = writeVarint(out, 1, base)
    for (let i = 0; i < ms.length; i++) {
      const position = ms[i] as number
      if (position < 0) {
        out[at++] = 0
      } else {
        at = writeVarint(out, at, base - position + 1)
        at = writeVarint(out, at, seq[i] as number)
      }
    }
    return at
  }

  #writeExact(out: Buffer): number {
    const parts = this.#ids.map((id) => (id === BEFORE_ALL ? null : id.split('-').map(BigInt)))
    let base = 0n
    for (const part of parts) if (part && (part[0] as bigint) > base) base = part[0] as bigint
    let at = writeBigVarint(out, 1, base)
    for (const part of parts) {
      if (!part) {
        out[at++] = 0
      } else {
        at = writeBigVarint(out, at, base - (part[0] as bigint) + 1n)
        at = writeBigVarint(out, at, part[1] as bigint)
      }
    }
    return at
  }
}

/** Whether a part of canonical id `id` has more digits than a number holds exactly. */
function isBig(id: string): boolean {
  const dash = id.indexOf('-')
  return dash > SAFE_DIGITS || id.length - dash - 1 > SAFE_DIGITS
}

/** An unsigned LEB128 varint of `value` (a whole number below 2^53) at `at`; returns the end. */
function writeVarint(out: Buffer, at: number, value: number): number {
  let offset = at
  let rest = value
  while (rest > 0x7fffffff) {
    out[offset++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  while (rest > 0x7f) {
    out[offset++] = (rest & 0x7f) | 0x80
    rest >>>= 7
  }
  out[offset++] = rest
  return offset
}

function writeBigVarint(out: Buffer, at: number, value: bigint): number {
  let offset = at
  let rest = value
  while (rest > 0x7fn) {
    out[offset++] = Number(rest & 0x7fn) | 0x80
    rest >>= 7n
  }
  out[offset++] = Number(rest)
  return offset
}

/** The next varint, or null when the bytes end first or it exceeds 64 bits. */
function readVarint(reader: { bytes: Buffer; at: number }): bigint | null {
  let value = 0n
  for (let shift = 0n; shift < 70n; shift += 7n) {
    const byte = reader.bytes[reader.at++]
    if (byte === undefined) return null
    value |= BigInt(byte & 0x7f) << shift
    if (byte < 0x80) return value <= UINT64_MAX ? value : null
  }
  return null
}
