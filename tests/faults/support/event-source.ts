import { type ClientRequest, request } from 'node:http'
import { compareIds } from './http.js'

/**
 * A client that behaves as a browser's EventSource does (WHATWG HTML, server-sent events), with custom
 * headers (the API token) since it is not a browser:
 * - a network error or the end of the body makes it reconnect after the `retry:` time, sending
 *   `Last-Event-ID` with the last id it saw (an `id:` on a block without data counts too);
 * - a non-200 status or another content type makes it give up for good (`failed` says why).
 * It records every item's id as delivered, so a test can check order, duplicates and completeness.
 */
export class ReconnectingEventSource {
  /** Ids of delivered items (blocks with data), in the order received. */
  readonly ids: string[] = []
  /** `event: reset` blocks received (a gap the server admits to). */
  readonly resets: string[] = []
  /** Connections after the first. */
  reconnects = 0
  /** Why the client gave up for good (as EventSource would), if it did. */
  failed: string | undefined
  lastEventId = ''
  #retryMs: number
  #closed = false
  #req: ClientRequest | undefined
  #timer: NodeJS.Timeout | undefined
  #connections = 0

  constructor(
    readonly url: string,
    readonly headers: Record<string, string>,
    { retryMs = 2000 }: { retryMs?: number } = {},
  ) {
    this.#retryMs = retryMs
  }

  start(): this {
    this.#connect()
    return this
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#req?.destroy()
  }

  /** The id of the newest item received, or undefined. */
  get lastItemId(): string | undefined {
    return this.ids.at(-1)
  }

  #connect(): void {
    if (this.#closed) return
    if (this.#connections++ > 0) this.reconnects++
    const req = request(this.url, {
      agent: false,
      headers: {
        Accept: 'text/event-stream',
        'Cache-Control': 'no-cache',
        ...this.headers,
        ...(this.lastEventId !== '' && { 'Last-Event-ID': this.lastEventId }),
      },
    })
    this.#req = req
    let ended = false
    const reconnect = () => {
      if (ended) return
      ended = true
      if (this.#closed || this.failed) return
      this.#timer = setTimeout(() => this.#connect(), this.#retryMs)
    }
    req.on('error', reconnect)
    req.on('close', reconnect)
    req.on('response', (res) => {
      const type = res.headers['content-type'] ?? ''
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        this.failed = `HTTP ${res.statusCode} ${type}`
        res.resume()
        return
      }
      res.setEncoding('utf8')
      let buffered = ''
      res.on('data', (chunk: string) => {
        buffered += chunk.replace(/\r\n?/g, '\n')
        let end = buffered.indexOf('\n\n')
        while (end >= 0) {
          this.#dispatch(buffered.slice(0, end))
          buffered = buffered.slice(end + 2)
          end = buffered.indexOf('\n\n')
        }
      })
      res.on('error', reconnect)
      res.on('end', reconnect)
      res.on('close', reconnect)
    })
    req.end()
  }

  #dispatch(raw: string): void {
    let id: string | undefined
    let event = 'message'
    let data: string | undefined
    for (const line of raw.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id' && !value.includes('\0')) id = value
      else if (field === 'event') event = value
      else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`
      else if (field === 'retry' && /^\d+$/.test(value)) this.#retryMs = Number(value)
    }
    if (id !== undefined) this.lastEventId = id
    if (data === undefined) return
    if (event === 'reset') {
      this.resets.push(data)
      return
    }
    if (id !== undefined) this.ids.push(id)
  }
}

/** What is wrong with one subscriber's deliveries against the acknowledged ids, as readable lines. */
export function deliveryProblems(
  name: string,
  source: ReconnectingEventSource,
  acknowledged: readonly string[],
): string[] {
  const problems: string[] = []
  if (source.failed) problems.push(`${name}: gave up (${source.failed})`)
  if (source.resets.length > 0) problems.push(`${name}: ${source.resets.length} resets: ${source.resets[0]}`)
  let outOfOrder = 0
  for (let i = 1; i < source.ids.length; i++) {
    if (compareIds(source.ids[i - 1] as string, source.ids[i] as string) >= 0) outOfOrder++
  }
  if (outOfOrder > 0)
    problems.push(`${name}: ${outOfOrder} ids not strictly after the one before (duplicate or out of order)`)
  const received = new Set(source.ids)
  const missing = acknowledged.filter((id) => !received.has(id))
  if (missing.length > 0) {
    problems.push(
      `${name}: ${missing.length} acknowledged items never delivered, first ${missing.slice(0, 3).join(', ')}`,
    )
  }
  return problems
}

/**
 * Waits until every source has received every acknowledged id (or gave up), at most `timeoutMs`.
 * Items arrive in id order, so a source has them all once its newest id reaches the newest acknowledged.
 */
export async function caughtUp(
  sources: readonly ReconnectingEventSource[],
  acknowledged: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const newest = acknowledged.reduce((a, b) => (compareIds(a, b) >= 0 ? a : b), '0-0')
  const deadline = performance.now() + timeoutMs
  const done = (s: ReconnectingEventSource) =>
    s.failed !== undefined || (s.lastItemId !== undefined && compareIds(s.lastItemId, newest) >= 0)
  while (performance.now() < deadline && !sources.every(done)) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
