/** A minimal SSE client over a fetch Response body, for tests: it parses blocks as EventSource does. */
export interface SseBlock {
  id?: string
  event?: string
  data?: string
  retry?: string
  /** Comment lines (heartbeats), without the leading colon. */
  comments: string[]
}

export class SseStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #decoder = new TextDecoder()
  #buffered = ''
  #ended = false
  #error: unknown
  #lastEventId = ''
  // A read that outlived a timeout is kept for the next call, so no chunk is ever dropped.
  #pending: ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']> | undefined

  constructor(readonly response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`)
    this.#reader = response.body.getReader()
  }

  /** The body ended: normally, or with an error (see {@link error}); either way nextBlock() then returns null. */
  get ended(): boolean {
    return this.#ended
  }

  /**
   * Why the body ended, if a read failed rather than said done (e.g. `TypeError: terminated`). Not a test
   * of a cut by itself: fetch (undici) takes the close of a `Connection: close` response (the service's
   * event streams) as the end of its body, even a reset, so a cut stream ends without an error.
   */
  get error(): unknown {
    return this.#error
  }

  /**
   * The body ended without a read error and on a block boundary: nothing unterminated left over. A cut
   * close-delimited body ends without an error too, so a test of a clean end also checks that everything
   * queued before it arrived.
   */
  get endedCleanly(): boolean {
    return this.#ended && this.#error === undefined && this.#buffered === ''
  }

  /** What EventSource would send as Last-Event-ID on reconnecting: every `id:` field counts. */
  get lastEventId(): string {
    return this.#lastEventId
  }

  /** The next block, or null when the stream ended; rejects after `timeoutMs`. */
  async nextBlock(timeoutMs = 5000): Promise<SseBlock | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = this.#buffered.indexOf('\n\n')
      if (end >= 0) {
        const raw = this.#buffered.slice(0, end)
        this.#buffered = this.#buffered.slice(end + 2)
        const block = parseBlock(raw)
        if (block.id !== undefined) this.#lastEventId = block.id
        return block
      }
      if (this.#ended) return null
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw new Error(`no SSE block within ${timeoutMs} ms`)
      let timer: NodeJS.Timeout | undefined
      // A read error ends the stream as the end of the body does (EventSource reconnects after either);
      // it is kept for tests that tell the two apart.
      this.#pending ??= this.#reader.read().catch((error: unknown) => {
        this.#error = error ?? new Error('body read failed')
        return { done: true as const, value: undefined }
      })
      const chunk = await Promise.race([
        this.#pending,
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), remaining)
        }),
      ])
      clearTimeout(timer)
      if (chunk === 'timeout') throw new Error(`no SSE block within ${timeoutMs} ms`)
      this.#pending = undefined
      if (chunk.done) this.#ended = true
      else this.#buffered += this.#decoder.decode(chunk.value, { stream: true })
    }
  }

  /** The next `count` events (blocks with data), skipping heartbeats and the retry block. */
  async events(count: number, timeoutMs = 5000): Promise<SseBlock[]> {
    const events: SseBlock[] = []
    const deadline = Date.now() + timeoutMs
    while (events.length < count) {
      const block = await this.nextBlock(Math.max(1, deadline - Date.now()))
      if (block === null) throw new Error(`stream ended after ${events.length} of ${count} events`)
      if (block.data !== undefined) events.push(block)
    }
    return events
  }

  /** Resolves true if no event arrives within `ms` (heartbeats allowed); throws if the stream ends. */
  async quietFor(ms: number): Promise<boolean> {
    try {
      await this.events(1, ms)
      return false
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('no SSE block within')) return true
      throw error
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {})
  }
}

function parseBlock(raw: string): SseBlock {
  const block: SseBlock = { comments: [] }
  for (const line of raw.split('\n')) {
    if (line.startsWith(':')) {
      block.comments.push(line.slice(1).trim())
      continue
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'data') block.data = block.data === undefined ? value : `${block.data}\n${value}`
    else if (field === 'id' || field === 'event' || field === 'retry') block[field] = value
  }
  return block
}
