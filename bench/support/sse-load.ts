import { request } from 'node:http'

/**
 * Many SSE subscribers from one process, over raw node:http (no EventSource library): each counts the
 * items it receives and records, per item, the time from its append to its receipt. Items carry
 * `{"n": <index>}`; the producer records when it appended each index.
 */
export interface Subscribers {
  /** Receipt latencies in ms (one per delivered item per subscriber). */
  latencies: number[]
  /** Items received, summed over subscribers. */
  received: number
  /** Subscribers whose connection is open and has sent its first bytes. */
  open: number
  close(): void
}

export function openSubscribers(
  count: number,
  url: (index: number) => string,
  headers: Record<string, string>,
  appendedAt: Map<number, number>,
): Promise<Subscribers> {
  const subscribers: Subscribers = { latencies: [], received: 0, open: 0, close: () => {} }
  const requests: ReturnType<typeof request>[] = []
  subscribers.close = () => {
    for (const req of requests) req.destroy()
  }
  return new Promise((resolve, reject) => {
    for (let i = 0; i < count; i++) {
      const req = request(url(i), { headers: { Accept: 'text/event-stream', ...headers }, agent: false })
      requests.push(req)
      req.on('error', () => {})
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`subscriber ${i}: HTTP ${res.statusCode}`))
          return
        }
        res.setEncoding('utf8')
        let buffered = ''
        let counted = false
        res.on('data', (chunk: string) => {
          if (!counted) {
            counted = true
            if (++subscribers.open === count) resolve(subscribers)
          }
          buffered += chunk
          let end = buffered.indexOf('\n\n')
          while (end >= 0) {
            const block = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            const match = /"n":(\d+)/.exec(block)
            if (match) {
              const sent = appendedAt.get(Number(match[1]))
              subscribers.received++
              if (sent !== undefined) subscribers.latencies.push(performance.now() - sent)
            }
            end = buffered.indexOf('\n\n')
          }
        })
      })
      req.end()
    }
  })
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

/** Resident set size of a process, in KiB (Linux). */
export async function rssKiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1])
}

/**
 * CPU time (user + system, ms) used so far by process `pid` and its direct children (nginx's worker
 * runs as a child of its master), from /proc. Less sensitive than latency to other load on the host.
 */
export async function cpuMs(pid: number): Promise<number> {
  const { readFile, readdir } = await import('node:fs/promises')
  const ticksPerMs = 100 / 1000 // USER_HZ is 100 on Linux
  const stat = async (id: string) => {
    const text = await readFile(`/proc/${id}/stat`, 'utf8').catch(() => '')
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }
  }
  let ticks = (await stat(String(pid))).ticks
  for (const id of await readdir('/proc')) {
    if (!/^\d+$/.test(id) || id === String(pid)) continue
    const child = await stat(id)
    if (child.ppid === pid) ticks += child.ticks
  }
  return ticks / ticksPerMs
}
