/**
 * Benchmark (issue 11): what REDIS_APPEND_WAIT_REPLICAS=1 costs an append. A primary and one replica on
 * loopback; two services on that primary, one acknowledging appends once the primary has them (WAIT off,
 * the default), one once the replica confirms them too (WAIT 1 after each append, on its connection).
 * They take the load in alternating bursts, the order reversed every other cycle, so that the machine's
 * drift lands on both alike: one client (an append's latency when nothing else runs, timed here to the
 * microsecond) and 50 connections with autocannon (under load: WAIT blocks the connection of waiting
 * appends while the replica answers, so appends queue behind one another's WAIT).
 * Prints p50 and p99 and the ratio WAIT / off; then the same without HTTP (the script alone, and the
 * script with its WAIT, from node-redis), which shows WAIT's own cost below the HTTP noise. Run:
 * `npm run bench:append-wait`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createClient } from 'redis'
import { keys } from '../src/redis/keys.js'
import { readLuaScript } from '../src/redis/scripts.js'
import { buildService, type Running, startRedis, startService } from './support/processes.js'
import { median, percentile } from './support/sse-load.js'

const CYCLES = Number(process.env.BENCH_CYCLES ?? 6)
const BURST_SECONDS = Number(process.env.BENCH_BURST_SECONDS ?? 2)
const TOKEN = 'bench-api-token-0123456789abcdefghijklmnop'
const ITEM = JSON.stringify({
  event: 'tick',
  data: { sym: 'ACME', px: 12.5, seq: 1, note: 'a small JSON item' },
})
const LOADS = [1, 50] as const

interface Burst {
  p50Ms: number
  p99Ms: number
  requests: number
  seconds: number
  non201: number
}

const URL_PATH = '/buffers/wait-bench/items'
const HEADERS = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' }

/**
 * One client appending one item after another for `seconds` (fetch, keep-alive), each append timed to the
 * microsecond: an append's latency when nothing else runs, which autocannon's whole milliseconds cannot show.
 */
async function sequentialBurst(port: number, seconds: number): Promise<Burst> {
  const latencies: number[] = []
  let non201 = 0
  const started = performance.now()
  while (performance.now() < started + seconds * 1000) {
    const sent = performance.now()
    const res = await fetch(`http://127.0.0.1:${port}${URL_PATH}`, {
      method: 'POST',
      headers: HEADERS,
      body: ITEM,
    })
    await res.arrayBuffer()
    latencies.push(performance.now() - sent)
    if (res.status !== 201) non201++
  }
  latencies.sort((a, b) => a - b)
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: latencies.length,
    seconds: (performance.now() - started) / 1000,
    non201,
  }
}

/** Under load: autocannon with `connections` keep-alive connections for `seconds`. */
async function loadBurst(port: number, connections: number, seconds: number): Promise<Burst> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${URL_PATH}`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: HEADERS,
    body: ITEM,
  })
  return {
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    seconds: result.duration,
    non201: result.non2xx + result.errors,
  }
}

const burst = (port: number, connections: number, seconds: number) =>
  connections === 1 ? sequentialBurst(port, seconds) : loadBurst(port, connections, seconds)

/**
 * The same cost without HTTP: the append script alone against the append script and `WAIT 1 500` in one
 * pipeline (what the service sends), each run one after another from one node-redis client, in alternating
 * rounds of `roundRuns`. Resolves with each one's p50 and p99 in ms.
 */
async function redisRoundTrips(url: string, rounds = 20, roundRuns = 500) {
  const client = createClient({ url })
  await client.connect()
  try {
    const sha = await client.scriptLoad(readLuaScript('buffer-append'))
    const stream = keys.bufferItems('wait-bench-redis')
    // As BufferStore.append calls it: the stream and its meta key, then the channel, retention and items.
    const script = ['EVALSHA', sha, '2', stream, keys.bufferMeta('wait-bench-redis')]
    const args = [keys.streamNotifications(stream), '10000', 'tick', ITEM]
    const variants = {
      alone: () => client.sendCommand([...script, ...args]),
      withWait: () =>
        client
          .multi()
          .addCommand([...script, ...args])
          .addCommand(['WAIT', '1', '500'])
          .execAsPipeline(),
    }
    const times = { alone: [] as number[], withWait: [] as number[] }
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0
        ? (['alone', 'withWait'] as const)
        : (['withWait', 'alone'] as const)) {
        for (let run = 0; run < roundRuns; run++) {
          const sent = performance.now()
          await variants[name]()
          times[name].push(performance.now() - sent)
        }
      }
    }
    const figures = (samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b)
      return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) }
    }
    return { alone: figures(times.alone), withWait: figures(times.withWait) }
  } finally {
    client.destroy()
  }
}

/** Resolves once the primary at `url` has its replica online. */
async function replicaOnline(url: string): Promise<void> {
  const client = createClient({ url })
  await client.connect()
  try {
    const deadline = Date.now() + 10_000
    while (!/slave0:.*state=online/.test(await client.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the replica did not come online')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    client.destroy()
  }
}

buildService()
const primary = await startRedis()
const started: Running[] = []
const replicaDir = mkdtempSync(join(tmpdir(), 'bench-replica-'))
try {
  // A replica writes the primary's snapshot to its directory during the sync: a throw-away one.
  started.push(await startRedis(['--replicaof', '127.0.0.1', String(primary.port), '--dir', replicaDir]))
  await replicaOnline(primary.url)
  const common = {
    REDIS_URL: primary.url,
    SESSION_SECRET: TOKEN,
    API_TOKEN: TOKEN,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  }
  const targets = [
    { name: 'WAIT off', service: await startService(common) },
    {
      name: 'WAIT 1',
      service: await startService({
        ...common,
        REDIS_APPEND_WAIT_REPLICAS: '1',
        REDIS_APPEND_WAIT_TIMEOUT_MS: '500',
      }),
    },
  ]
  started.push(...targets.map(({ service }) => service))
  for (const { service } of targets) await burst(service.port, 10, 2) // warm-up
  const bursts = new Map<string, Burst[]>()
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const order = cycle % 2 === 0 ? targets : [...targets].reverse()
    for (const connections of LOADS) {
      for (const { name, service } of order) {
        const key = `${name}/${connections}`
        bursts.set(key, [...(bursts.get(key) ?? []), await burst(service.port, connections, BURST_SECONDS)])
      }
    }
  }
  const summary = (key: string) => {
    const runs = bursts.get(key) ?? []
    return {
      p50Ms: median(runs.map((run) => run.p50Ms)),
      p99Ms: median(runs.map((run) => run.p99Ms)),
      requestsPerSecond:
        runs.reduce((sum, run) => sum + run.requests, 0) / runs.reduce((sum, run) => sum + run.seconds, 0),
      non201: runs.reduce((sum, run) => sum + run.non201, 0),
    }
  }
  console.log(
    `\nPOST one item, primary + 1 replica on loopback, ${CYCLES} cycles of ${BURST_SECONDS} s bursts (p50 and p99: medians over a target's bursts; 1 connection timed in us, 50 by autocannon in whole ms)`,
  )
  for (const connections of LOADS) {
    const off = summary(`WAIT off/${connections}`)
    const on = summary(`WAIT 1/${connections}`)
    for (const [name, figures] of [
      ['WAIT off', off],
      ['WAIT 1', on],
    ] as const) {
      console.log(
        `${`${name}, ${connections} connection${connections > 1 ? 's' : ''}`.padEnd(24)} p50 ${figures.p50Ms.toFixed(3).padStart(7)} ms  p99 ${figures.p99Ms.toFixed(3).padStart(7)} ms  ${figures.requestsPerSecond.toFixed(0).padStart(6)} req/s  non-201 ${figures.non201}`,
      )
    }
    console.log(
      `ratio WAIT 1 / off, ${connections}: p50 ${(on.p50Ms / off.p50Ms).toFixed(2)}x  p99 ${(on.p99Ms / off.p99Ms).toFixed(2)}x  req/s ${(on.requestsPerSecond / off.requestsPerSecond).toFixed(2)}x\n`,
    )
  }
  const trips = await redisRoundTrips(primary.url)
  const ms = (value: number) => value.toFixed(3).padStart(7)
  console.log(
    'Without HTTP: the append script from node-redis, one after another, 20 alternating rounds of 500',
  )
  console.log(`${'script alone'.padEnd(24)} p50 ${ms(trips.alone.p50Ms)} ms  p99 ${ms(trips.alone.p99Ms)} ms`)
  console.log(
    `${'script + WAIT 1'.padEnd(24)} p50 ${ms(trips.withWait.p50Ms)} ms  p99 ${ms(trips.withWait.p99Ms)} ms`,
  )
  console.log(
    `WAIT 1 adds: p50 ${(trips.withWait.p50Ms - trips.alone.p50Ms).toFixed(3)} ms (${(trips.withWait.p50Ms / trips.alone.p50Ms).toFixed(2)}x)  p99 ${(trips.withWait.p99Ms - trips.alone.p99Ms).toFixed(3)} ms (${(trips.withWait.p99Ms / trips.alone.p99Ms).toFixed(2)}x)`,
  )
} finally {
  await Promise.all(started.map((running) => running.stop()))
  await primary.stop()
  rmSync(replicaDir, { recursive: true, force: true })
}
