import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readlinkSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { createClient } from 'redis'
import type { ClientCommand, ClientReply } from './sse-client.js'

/**
 * The SSE subscribers of the fan-out benchmark, spread over several client processes
 * (bench/support/sse-client.ts), and what the benchmark reads from /proc and Redis about the servers.
 */
export interface Subscribers {
  /** Items received so far, summed over every stream. */
  received(): Promise<number>
  /** Receipt latencies in ms and the items received, since the last call; resets both. */
  collect(): Promise<{ received: number; latencies: number[] }>
  close(): Promise<void>
}

/** A pool of client processes; `open` spreads streams over them round-robin. */
export interface ClientPool {
  open(urls: string[], headers: Record<string, string>): Promise<Subscribers>
  /** CPU ms the client processes used so far, to tell whether the client was the bottleneck. */
  cpuMs(): Promise<number>
  stop(): Promise<void>
}

function ask(child: ChildProcess, command: ClientCommand, expect: ClientReply['type']): Promise<ClientReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ClientReply) => {
      if (message.type === 'failed') reject(new Error(`SSE client: ${message.message}`))
      else if (message.type === expect) resolve(message)
      else return
      child.off('message', onMessage)
    }
    child.on('message', onMessage)
    child.send(command)
  })
}

export async function startClients(processes: number): Promise<ClientPool> {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['--import', 'tsx', new URL('./sse-client.ts', import.meta.url).pathname], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  await Promise.all(children.map((child) => once(child, 'spawn')))
  return {
    async open(urls, headers) {
      const groups = children.map((child, c) => ({ child, urls: urls.filter((_, i) => i % processes === c) }))
      const used = groups.filter((group) => group.urls.length > 0)
      await Promise.all(used.map(({ child, urls }) => ask(child, { type: 'open', urls, headers }, 'open')))
      return {
        async received() {
          const replies = await Promise.all(used.map(({ child }) => ask(child, { type: 'count' }, 'count')))
          return replies.reduce((sum, r) => sum + (r.type === 'count' ? r.received : 0), 0)
        },
        async collect() {
          const replies = await Promise.all(used.map(({ child }) => ask(child, { type: 'report' }, 'report')))
          const latencies: number[] = []
          let received = 0
          for (const r of replies) {
            if (r.type !== 'report') continue
            received += r.received
            for (const latency of r.latencies) latencies.push(latency)
          }
          return { received, latencies }
        },
        async close() {
          await Promise.all(used.map(({ child }) => ask(child, { type: 'close' }, 'closed')))
        },
      }
    },
    async cpuMs() {
      let total = 0
      for (const child of children) total += await cpuMs(child.pid as number)
      return total
    },
    async stop() {
      for (const child of children) {
        if (child.exitCode !== null) continue
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    },
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

async function procStat(id: string): Promise<{ ppid: number; ticks: number }> {
  const text = await readFile(`/proc/${id}/stat`, 'utf8').catch(() => '')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }
}

/** `pid` and its direct children (nginx's worker runs as a child of its master). */
async function processAndChildren(pid: number): Promise<string[]> {
  const ids = [String(pid)]
  for (const id of await readdir('/proc')) {
    if (/^\d+$/.test(id) && id !== String(pid) && (await procStat(id)).ppid === pid) ids.push(id)
  }
  return ids
}

/** Resident set size of process `pid` and its direct children (nginx's worker), in KiB (Linux). */
export async function rssKiB(pid: number): Promise<number> {
  let total = 0
  for (const id of await processAndChildren(pid)) {
    const status = await readFile(`/proc/${id}/status`, 'utf8').catch(() => '')
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return total
}

/**
 * CPU time (user + system, ms) used so far by process `pid` and its direct children, from /proc. Less
 * sensitive than latency to other load on the host.
 */
export async function cpuMs(pid: number): Promise<number> {
  const ticksPerMs = 100 / 1000 // USER_HZ is 100 on Linux
  let ticks = 0
  for (const id of await processAndChildren(pid)) ticks += (await procStat(id)).ticks
  return ticks / ticksPerMs
}

/** Local TCP ports of the sockets that `pid` and its direct children hold, from /proc. */
async function localPorts(pid: number): Promise<Set<number>> {
  const inodes = new Set<string>()
  const ids = await processAndChildren(pid)
  for (const id of ids) {
    // Synchronous: with 12,000 streams open, a promise per descriptor took over a second per count.
    const fds = (() => {
      try {
        return readdirSync(`/proc/${id}/fd`)
      } catch {
        return [] as string[]
      }
    })()
    for (const fd of fds) {
      let target = ''
      try {
        target = readlinkSync(`/proc/${id}/fd/${fd}`)
      } catch {
        // Closed meanwhile.
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
      if (inode) inodes.add(inode)
    }
  }
  const ports = new Set<number>()
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const port = fields[1]?.split(':')[1]
      if (port && inodes.has(fields[9] ?? '')) ports.add(Number.parseInt(port, 16))
    }
  }
  return ports
}

/**
 * Connections that process `pid` (and its direct children) holds to the redis-server at `redisUrl`: the
 * clients in its CLIENT LIST whose address is one of the process's own sockets.
 */
export async function redisConnections(redisUrl: string, pid: number): Promise<number> {
  const client = createClient({ url: redisUrl })
  await client.connect()
  try {
    const list = await client.sendCommand<string>(['CLIENT', 'LIST'])
    const ports = await localPorts(pid)
    return String(list)
      .split('\n')
      .filter((line) => ports.has(Number(/ addr=[^ ]*:(\d+) /.exec(` ${line} `)?.[1]))).length
  } finally {
    await client.close()
  }
}

/** Empties the bench's own redis-server at `redisUrl` (never one the bench did not start). */
export async function flushRedis(redisUrl: string): Promise<void> {
  const client = createClient({ url: redisUrl })
  await client.connect()
  try {
    await client.flushAll()
  } finally {
    await client.close()
  }
}
