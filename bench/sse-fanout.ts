/**
 * Benchmark (issue 4): SSE fan-out. SUBSCRIBERS clients follow one buffer while a producer appends
 * RATE items/s for SECONDS; reports delivered %, p50/p99 latency from append to receipt, and the
 * service's RSS per idle SSE connection. The same load then runs against nginx + Nchan (Redis storage),
 * and our p99 is printed as a ratio of Nchan's. Targets: 100% delivered, p99 <= 50 ms,
 * <= 20 KiB RSS per idle connection, p99 ratio <= 1.0. Run: `npm run bench:sse`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { nchanUnavailable, startNchan } from './support/nchan.js'
import { buildService, startRedis, startService } from './support/processes.js'
import { reportFigures } from './support/report.js'
import { cpuMs, openSubscribers, percentile, rssKiB } from './support/sse-load.js'

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000)
const RATE = Number(process.env.BENCH_RATE ?? 50)
const SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10)
const TOKEN = 'bench-api-token-0123456789abcdefghijklmnop'

interface Outcome {
  deliveredPct: number
  p50: number
  p99: number
  publishErrors: number
  /** The server's CPU time per delivered event, in µs: from the first append until delivery ends. */
  cpuPerEventUs: number
}

/** Opens the subscribers, appends RATE items/s for SECONDS, waits for stragglers, and measures. */
async function run(
  serverPid: number,
  subscribe: (appendedAt: Map<number, number>) => ReturnType<typeof openSubscribers>,
  publish: (n: number) => Promise<boolean>,
  onIdle?: () => Promise<void>,
): Promise<Outcome> {
  const appendedAt = new Map<number, number>()
  const subscribers = await subscribe(appendedAt)
  await onIdle?.()
  const cpuBefore = await cpuMs(serverPid)
  const total = RATE * SECONDS
  let publishErrors = 0
  const started = performance.now()
  const inFlight: Promise<void>[] = []
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    appendedAt.set(n, performance.now())
    inFlight.push(
      publish(n).then(
        (ok) => {
          if (!ok) publishErrors++
        },
        () => {
          publishErrors++
        },
      ),
    )
  }
  await Promise.all(inFlight)
  const expected = total * SUBSCRIBERS
  const deadline = performance.now() + 5000
  while (subscribers.received < expected && performance.now() < deadline) await sleep(50)
  const cpuUsedMs = (await cpuMs(serverPid)) - cpuBefore
  subscribers.close()
  const sorted = subscribers.latencies.sort((a, b) => a - b)
  return {
    deliveredPct: (100 * subscribers.received) / expected,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    publishErrors,
    cpuPerEventUs: (cpuUsedMs * 1000) / Math.max(1, subscribers.received),
  }
}

const row = (name: string, o: Outcome) =>
  `${name.padEnd(34)} delivered ${o.deliveredPct.toFixed(2).padStart(6)}%  p50 ${o.p50.toFixed(1).padStart(6)} ms  p99 ${o.p99.toFixed(1).padStart(6)} ms  CPU ${o.cpuPerEventUs.toFixed(1).padStart(5)} µs/event  publish errors ${o.publishErrors}`

/**
 * RSS per idle stream, two ways. `firstKiB`: RSS with the subscribers connected, less RSS before, over
 * their number; it also carries one-time growth, mostly V8's young generation growing to its working
 * size during the connection burst, which makes it swing by 15 KiB between identical runs. `marginalKiB`:
 * what a further batch of as many idle streams adds once the heap has grown: the cost of one more
 * stream, which is what the target is about.
 */
interface RssPerConnection {
  firstKiB: number
  marginalKiB: number
}

async function measureOurs(redisUrl: string): Promise<{ outcome: Outcome; rss: RssPerConnection }> {
  const service = await startService({
    REDIS_URL: redisUrl,
    SESSION_SECRET: TOKEN,
    API_TOKEN: TOKEN,
    NODE_ENV: 'production',
  })
  try {
    const base = `http://127.0.0.1:${service.port}`
    const auth = { Authorization: `Bearer ${TOKEN}` }
    const append = async (n: number) => {
      const res = await fetch(`${base}/buffers/fanout/items`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { n } }),
      })
      await res.arrayBuffer()
      return res.status === 201
    }
    // Warm up (scripts loaded, live reader connected), then the baseline RSS without subscribers.
    const warm = await openSubscribers(1, () => `${base}/buffers/warmup/events`, auth, new Map())
    await append(-1)
    warm.close()
    await sleep(1000)
    const pid = service.child.pid as number
    const idleRss = await rssKiB(pid)
    const rss: RssPerConnection = { firstKiB: Number.NaN, marginalKiB: Number.NaN }
    const outcome = await run(
      pid,
      (appendedAt) => openSubscribers(SUBSCRIBERS, () => `${base}/buffers/fanout/events`, auth, appendedAt),
      append,
      async () => {
        await sleep(1000)
        rss.firstKiB = ((await rssKiB(pid)) - idleRss) / SUBSCRIBERS
      },
    )
    // After the latency run, so it cannot disturb it: two more batches of idle streams. The first may
    // fit in heap that the burst's garbage left free; the second shows what each further stream costs.
    await sleep(1000)
    let before = await rssKiB(pid)
    const batches = []
    for (let batch = 0; batch < 2; batch++) {
      batches.push(await openSubscribers(SUBSCRIBERS, () => `${base}/buffers/idle/events`, auth, new Map()))
      await sleep(1000)
      const after = await rssKiB(pid)
      rss.marginalKiB = (after - before) / SUBSCRIBERS
      before = after
    }
    for (const batch of batches) batch.close()
    return { outcome, rss }
  } finally {
    await service.stop()
  }
}

async function measureNchan(redisPort: number): Promise<Outcome> {
  const nchan = await startNchan(redisPort)
  try {
    const base = `http://127.0.0.1:${nchan.port}`
    return await run(
      nchan.child.pid as number,
      (appendedAt) => openSubscribers(SUBSCRIBERS, () => `${base}/sub/fanout`, {}, appendedAt),
      async (n) => {
        const res = await fetch(`${base}/pub/fanout`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'text/json' },
          body: JSON.stringify({ data: { n } }),
        })
        await res.arrayBuffer()
        return res.status < 300
      },
    )
  } finally {
    await nchan.stop()
  }
}

buildService()
const redis = await startRedis()
try {
  const ours = await measureOurs(redis.url)
  console.log(
    `\nSSE fan-out: ${SUBSCRIBERS} subscribers, ${RATE} items/s for ${SECONDS} s, loopback, one redis-server`,
  )
  console.log(row('hono-redis-service', ours.outcome))
  const why = nchanUnavailable()
  const nchan = why ? undefined : await measureNchan(redis.port)
  if (nchan) console.log(row('nginx + Nchan (Redis storage)', nchan))
  else console.log(`nginx + Nchan: not run: ${why}`)

  const { deliveredPct, p99 } = ours.outcome
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS')
  console.log(
    `\ndelivered:            ${deliveredPct.toFixed(2)}% (target 100%) ${verdict(deliveredPct === 100)}`,
  )
  console.log(`p99 latency:          ${p99.toFixed(1)} ms (target <= 50 ms) ${verdict(p99 <= 50)}`)
  const { firstKiB, marginalKiB } = ours.rss
  console.log(
    `RSS per idle stream:  ${marginalKiB.toFixed(1)} KiB for ${SUBSCRIBERS} more (target <= 20 KiB) ${verdict(marginalKiB <= 20)}; first ${SUBSCRIBERS}: ${firstKiB.toFixed(1)} KiB, with heap growth`,
  )
  if (nchan) {
    const ratio = p99 / nchan.p99
    console.log(`p99 vs Nchan:         ${ratio.toFixed(2)}x (target <= 1.0x) ${verdict(ratio <= 1)}`)
    const cpuRatio = ours.outcome.cpuPerEventUs / nchan.cpuPerEventUs
    console.log(`CPU per event vs Nchan: ${cpuRatio.toFixed(2)}x (reported, no target here)`)
  }
  const benchmark = `SSE fan-out (${SUBSCRIBERS} subscribers, ${RATE} items/s, ${SECONDS} s)`
  const vsNchan = (value: number, nchanValue: number | undefined) =>
    nchanValue === undefined
      ? {}
      : { baseline: { name: 'nginx + Nchan', value: nchanValue }, ratio: value / nchanValue }
  reportFigures([
    {
      benchmark,
      figure: 'delivered',
      unit: '%',
      ours: deliveredPct,
      ...(nchan && { baseline: { name: 'nginx + Nchan', value: nchan.deliveredPct } }),
      target: '100%',
      pass: deliveredPct === 100,
    },
    {
      benchmark,
      figure: 'p99 latency, append to receipt',
      unit: 'ms',
      ours: p99,
      ...vsNchan(p99, nchan?.p99),
      target: '<= 50 ms, <= 1.0x Nchan',
      pass: p99 <= 50 && (!nchan || p99 <= nchan.p99),
    },
    {
      benchmark,
      figure: 'p50 latency',
      unit: 'ms',
      ours: ours.outcome.p50,
      ...vsNchan(ours.outcome.p50, nchan?.p50),
    },
    {
      benchmark,
      figure: 'server CPU per delivered event',
      unit: 'µs',
      ours: ours.outcome.cpuPerEventUs,
      ...vsNchan(ours.outcome.cpuPerEventUs, nchan?.cpuPerEventUs),
    },
    {
      benchmark,
      figure: `RSS per idle stream (${SUBSCRIBERS} more)`,
      unit: 'KiB',
      ours: marginalKiB,
      target: '<= 20 KiB',
      pass: marginalKiB <= 20,
    },
    {
      benchmark,
      figure: `RSS per idle stream (first ${SUBSCRIBERS}, with heap growth)`,
      unit: 'KiB',
      ours: firstKiB,
    },
  ])
} finally {
  await redis.stop()
}
