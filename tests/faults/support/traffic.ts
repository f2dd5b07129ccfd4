import type { Agent } from 'node:http'
import { keepAliveAgent, type Reply, send, sleep } from './http.js'

/**
 * Load for fault suites, bounded by `stop()` (and by each request's client timeout): appenders that POST
 * items one after the other on a keep-alive connection each, and a readiness probe. Loopback only.
 */

export interface Append {
  /** Which appender, and its sequence number: the item's data is `{ c, n }`. */
  c: number
  n: number
  reply: Reply
  /** When the request was sent, performance.now(). */
  sentAt: number
  /** The id the service acknowledged (201), if it did. */
  id?: string
}

export class Appenders {
  readonly appends: Append[] = []
  #stopped = false
  readonly #loops: Promise<void>[] = []
  readonly #agents: Agent[] = []

  constructor(
    private readonly target: () => string,
    private readonly headers: Record<string, string>,
    private readonly options: { clients: number; pauseMs: number; timeoutMs: number; keepAlive?: boolean },
  ) {}

  start(): this {
    for (let c = 0; c < this.options.clients; c++) {
      const agent = this.options.keepAlive === false ? undefined : keepAliveAgent()
      if (agent) this.#agents.push(agent)
      this.#loops.push(this.#loop(c, agent))
    }
    return this
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await Promise.all(this.#loops)
    for (const agent of this.#agents) agent.destroy()
  }

  get acknowledged(): Append[] {
    return this.appends.filter((append) => append.id !== undefined)
  }

  async #loop(c: number, agent: Agent | undefined): Promise<void> {
    for (let n = 0; !this.#stopped; n++) {
      const sentAt = performance.now()
      const reply = await send(this.target(), agent, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify({ event: 'fault', data: { c, n } }),
        timeoutMs: this.options.timeoutMs,
      })
      const append: Append = { c, n, reply, sentAt }
      if (reply.status === 201) append.id = (JSON.parse(reply.body) as { ids: string[] }).ids[0]
      this.appends.push(append)
      await sleep(this.options.pauseMs)
    }
  }
}

export interface Probe {
  sentAt: number
  at: number
  status: number
}

/** GET /readyz every `intervalMs` on a connection of its own, one probe at a time. */
export class ReadinessProbe {
  readonly probes: Probe[] = []
  #stopped = false
  #loop: Promise<void> | undefined
  readonly #agent = keepAliveAgent()

  constructor(
    private readonly url: string,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const sentAt = performance.now()
        const reply = await send(this.url, this.#agent, { timeoutMs: 5000 })
        this.probes.push({ sentAt, at: reply.at, status: reply.status })
        await sleep(this.intervalMs)
      }
    })()
    return this
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#loop
    this.#agent.destroy()
  }

  /** Ms from `since` to the first probe answered after it with `status`, or undefined if none came. */
  firstAfter(since: number, status: number): number | undefined {
    const probe = this.probes.find((p) => p.at >= since && p.status === status)
    return probe && probe.at - since
  }
}

/** Every item id stored in a buffer, paged through with GET /buffers/:name/items (1000 a page). */
export async function storedIds(
  base: string,
  buffer: string,
  headers: Record<string, string>,
): Promise<string[]> {
  const ids: string[] = []
  let after: string | undefined
  for (;;) {
    const query = `limit=1000${after ? `&after=${after}` : ''}`
    const reply = await send(`${base}/buffers/${buffer}/items?${query}`, undefined, { headers })
    if (reply.status !== 200)
      throw new Error(`paging ${buffer}: HTTP ${reply.status} ${reply.error ?? reply.body}`)
    const page = JSON.parse(reply.body) as { items: { id: string }[]; next: string | null; reset?: boolean }
    if (page.reset) throw new Error(`paging ${buffer}: reset ${reply.body.slice(0, 200)}`)
    if (page.items.length === 0) return ids
    for (const item of page.items) ids.push(item.id)
    after = page.next ?? undefined
  }
}
