import { Agent, request } from 'node:http'

/** One request's outcome, as a client sees it: never a thrown error, a status 0 with `error` instead. */
export interface Reply {
  status: number
  body: string
  /** From the request being sent to the end of the response (or the error). */
  ms: number
  /** When the reply (or the error) arrived, performance.now(). */
  at: number
  error?: string
}

export interface SendOptions {
  method?: string
  headers?: Record<string, string>
  body?: string
  /** A request still unanswered after this is aborted and reported as `error: 'timeout'` (a hang). */
  timeoutMs?: number
}

/** A keep-alive agent with one connection: a client that sends its requests one after the other. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 })
}

/** Sends one request on `agent` (or a connection of its own when undefined) and reads the whole answer. */
export function send(url: string, agent: Agent | undefined, options: SendOptions = {}): Promise<Reply> {
  const { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = options
  const started = performance.now()
  return new Promise((resolve) => {
    let settled = false
    const finish = (reply: Omit<Reply, 'ms' | 'at'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const at = performance.now()
      resolve({ ...reply, ms: at - started, at })
    }
    const req = request(url, {
      method,
      agent: agent ?? false,
      headers: {
        ...(body !== undefined && {
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(body)),
        }),
        ...headers,
      },
    })
    const timer = setTimeout(() => {
      finish({ status: 0, body: '', error: 'timeout' })
      req.destroy()
    }, timeoutMs)
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ status: 0, body: '', error: error.code ?? error.message }),
    )
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => finish({ status: res.statusCode ?? 0, body: text }))
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish({ status: 0, body: '', error: `response ${error.code ?? error.message}` }),
      )
    })
    req.end(body)
  })
}

/** Stream ids `ms-seq` in numeric order. */
export function compareIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt)
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt)
  if (aMs !== bMs) return aMs < bMs ? -1 : 1
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1
  return 0
}

/** Resident set size of a process, in MiB (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
