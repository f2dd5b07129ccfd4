/**
 * One SSE client process of the fan-out benchmark (bench/support/sse-load.ts starts several), so that the
 * clients' parsing does not share an event loop with the producer, or one core with each other. Driven over
 * IPC: `open` opens the given streams over raw node:http (no EventSource library) and answers once each has
 * sent its first bytes; `count` answers the items received so far; `report` answers the receipt latencies;
 * `close` ends every stream. Items carry `{"n":<index>,"t":<ms of the append>}`: the latency is receipt
 * time less `t`, both from bench/support/clock.ts.
 */
import { request } from 'node:http'
import { monotonicMs } from './clock.js'

export type ClientCommand =
  | { type: 'open'; urls: string[]; headers: Record<string, string> }
  | { type: 'count' }
  | { type: 'report' }
  | { type: 'close' }

export type ClientReply =
  | { type: 'open' }
  | { type: 'failed'; message: string }
  | { type: 'count'; received: number }
  | { type: 'report'; received: number; latencies: number[] }
  | { type: 'closed' }

const ITEM = /"t":([\d.]+)/
const requests: ReturnType<typeof request>[] = []
let latencies: number[] = []
let received = 0

const reply = (message: ClientReply) => process.send?.(message)

/** Streams opening at once: a burst of thousands of connections overflows the servers' listen backlog. */
const SLICE = 250

/** Opens one stream; resolves when it has sent its first bytes. */
function openOne(url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false })
    requests.push(req)
    let counted = false
    req.on('error', (error) => {
      if (!counted) reject(error)
    })
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`HTTP ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      let buffered = ''
      res.on('data', (chunk: string) => {
        if (!counted) {
          counted = true
          resolve()
        }
        buffered += chunk
        let end = buffered.indexOf('\n\n')
        while (end >= 0) {
          const sent = ITEM.exec(buffered.slice(0, end))
          if (sent) {
            received++
            latencies.push(monotonicMs() - Number(sent[1]))
          }
          buffered = buffered.slice(end + 2)
          end = buffered.indexOf('\n\n')
        }
      })
    })
    req.end()
  })
}

async function open(urls: string[], headers: Record<string, string>): Promise<void> {
  try {
    // SLICE streams opening at any time: each one that has opened makes way for the next, rather than
    // every slice waiting for its slowest stream.
    let next = 0
    const opener = async () => {
      while (next < urls.length) await openOne(urls[next++] as string, headers)
    }
    await Promise.all(Array.from({ length: Math.min(SLICE, urls.length) }, opener))
    reply({ type: 'open' })
  } catch (error) {
    reply({ type: 'failed', message: (error as Error).message })
  }
}

process.on('message', (command: ClientCommand) => {
  if (command.type === 'open') void open(command.urls, command.headers)
  else if (command.type === 'count') reply({ type: 'count', received })
  else if (command.type === 'report') {
    reply({ type: 'report', received, latencies })
    latencies = []
    received = 0
  } else {
    for (const req of requests.splice(0)) req.destroy()
    reply({ type: 'closed' })
  }
})
