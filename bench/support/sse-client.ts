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

function open(urls: string[], headers: Record<string, string>): void {
  let opened = 0
  urls.forEach((url, index) => {
    const req = request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false })
    requests.push(req)
    req.on('error', (error) => {
      if (opened < urls.length) reply({ type: 'failed', message: `stream ${index}: ${error.message}` })
    })
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        reply({ type: 'failed', message: `stream ${index}: HTTP ${res.statusCode}` })
        return
      }
      res.setEncoding('utf8')
      let buffered = ''
      let counted = false
      res.on('data', (chunk: string) => {
        if (!counted) {
          counted = true
          if (++opened === urls.length) reply({ type: 'open' })
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

process.on('message', (command: ClientCommand) => {
  if (command.type === 'open') open(command.urls, command.headers)
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
