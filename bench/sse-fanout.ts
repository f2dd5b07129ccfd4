/**
 * Benchmark (issues 4 and 12): SSE fan-out, the service against nginx + Nchan (Redis storage, one worker)
 * on the same redis-server, at several load points (BENCH_POINTS=1k,10k,spread,multi picks some):
 *   1k:     1,000 subscribers of one buffer, 50 items/s;
 *   10k:    10,000 subscribers of one buffer, 5 items/s;
 *   spread: 10,000 subscribers spread over 1,000 buffers (10 each), 100 items/s round-robin over them;
 *   multi:  1,000 streams following the same 10 buffers each (ours: `GET /events?buffer=...`; Nchan: one
 *           multiplexed subscriber location over 10 channels), 50 items/s round-robin over the buffers.
 * Per point and target: delivered %, p50/p99 from append to receipt, the server's CPU (user + system, from
 * /proc; nginx master and worker) per delivered event, RSS per idle stream for 1,000 more streams, and the
 * Redis connections the server process holds at the start and at the end. Targets, as ratios to Nchan in the
 * same run: delivered 100%, CPU per event, p50 and p99 at most 1.0x; RSS per further idle stream at most
 * 10 KiB; Redis connections constant.
 *
 * The targets take the load in alternating rounds (BENCH_ROUNDS, default 3; the order reversed every other
 * round), each on a freshly started server, and the figures are medians over the rounds: a shared machine's
 * speed drifts over minutes, and one long run per target lets that drift land on one of them (as in
 * bench/sessions.ts). The subscribers run in BENCH_CLIENT_PROCESSES (default 2) client processes, apart from
 * the producer; their CPU use is printed, to tell when the client was the bottleneck.
 * BENCH_DURATION_SECONDS (default 8) is each round's publishing time; BENCH_SCALE (default 1) multiplies
 * the subscriber counts, for a machine that cannot hold 10,000. Run: `npm run bench:sse`.
 *
 * The `cluster` point (issue 11) compares the service with itself instead of with Nchan: on a 3-master Redis
 * Cluster (REDIS_MODE=cluster, started here from the redis-server binary) against standalone Redis, 1,000
 * subscribers over 30 buffers on all three shards, 50 items/s; Redis connections are counted per node.
 *
 * BENCH_PROCESSES (default 1) runs N service processes on one Redis (issue 12, "use every core": a replica
 * is one process on one core, a deployment runs N of them) against nginx with `worker_processes N`: stream i
 * connects to process i % N, appends go to the first, CPU is summed over the processes (and nginx's master
 * and workers), Redis connections are counted per process.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { TestRedisCluster } from '../tests/support/redis-cluster.js'
import { monotonicMs } from './support/clock.js'
import { buffersPerMaster } from './support/cluster-shards.js'
import { nchanUnavailable, startNchan } from './support/nchan.js'
import {
  buildService,
  type Running,
  type ServiceBuild,
  startRedis,
  startService,
} from './support/processes.js'
import { type Figure, reportFigures } from './support/report.js'
import {
  type ClientPool,
  cpuMs,
  flushRedis,
  median,
  percentile,
  redisConnections,
  rssKiB,
  startClients,
} from './support/sse-load.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 8)
const SCALE = Number(process.env.BENCH_SCALE ?? 1)
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? 2)
/** Service processes (and nginx workers) per target: stream i connects to process i % PROCESSES. */
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 1)
const IDLE_STREAMS = 1000
/**
 * How long a round lets the server settle after opening streams, before it counts anything: every stream
 * has had its first bytes by then (`open` waits for them), so this covers only what the server does after
 * (a first XREAD over new buffers, a collection).
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 500)
const TOKEN = 'bench-api-token-0123456789abcdefghijklmnop'

interface Point {
  id: string
  label: string
  subscribers: number
  /** Items per second over all buffers: item n goes to buffer n % buffers. */
  rate: number
  buffers: number
  /** True when every stream follows every buffer (one multi-buffer stream), else stream i follows i % buffers. */
  multi: boolean
  /** True when the service on a Redis Cluster is measured against the service on standalone Redis, not Nchan. */
  cluster?: boolean
}

const ALL_POINTS: Point[] = [
  {
    id: '1k',
    label: '1,000 subscribers, one buffer, 50 items/s',
    subscribers: 1000,
    rate: 50,
    buffers: 1,
    multi: false,
  },
  {
    id: '10k',
    label: '10,000 subscribers, one buffer, 5 items/s',
    subscribers: 10_000,
    rate: 5,
    buffers: 1,
    multi: false,
  },
  {
    id: 'spread',
    label: '10,000 subscribers over 1,000 buffers, 100 items/s',
    subscribers: 10_000,
    rate: 100,
    buffers: 1000,
    multi: false,
  },
  {
    id: 'multi',
    label: '1,000 streams of 10 buffers each, 50 items/s',
    subscribers: 1000,
    rate: 50,
    buffers: 10,
    multi: true,
  },
  {
    id: 'cluster',
    label: '1,000 subscribers over 30 buffers on 3 shards, 50 items/s, Redis Cluster vs standalone',
    subscribers: 1000,
    rate: 50,
    buffers: 30,
    multi: false,
    cluster: true,
  },
]
const wanted = process.env.BENCH_POINTS?.split(',').map((id) => id.trim())
const POINTS = ALL_POINTS.filter((point) => !wanted || wanted.includes(point.id)).map((point) => ({
  ...point,
  subscribers: Math.max(
    point.buffers === 1 || point.multi ? 1 : point.buffers,
    Math.round(point.subscribers * SCALE),
  ),
}))
if (POINTS.length === 0)
  throw new Error(`BENCH_POINTS=${process.env.BENCH_POINTS}: none of 1k,10k,spread,multi,cluster`)

const bufferName = (point: Point, k: number) => `fanout-${point.id}-${k}`
const bufferNames = (point: Point) => Array.from({ length: point.buffers }, (_, k) => bufferName(point, k))

/** One target on one point: where its streams are and how to publish to it. */
interface Server {
  /** The target's processes: the service's (BENCH_PROCESSES), or nginx's master (its workers are its children). */
  processes: Running[]
  /** The Redis nodes whose CLIENT LIST counts the server's connections: the standalone server, or every master. */
  redisNodes: string[]
  /** The stream URL of subscriber i (of the multi-buffer set when the point is `multi`). */
  streamUrl(i: number): string
  headers: Record<string, string>
  publish(buffer: string, body: string): Promise<boolean>
}

interface Target {
  name: string
  start(redisUrl: string, redisPort: number, point: Point): Promise<Server>
}

/**
 * The service built in checkout `root` (this one by default), run with extra node flags `nodeArgs`, as
 * PROCESSES processes on the bench's standalone Redis, or on `cluster` (REDIS_MODE=cluster) when given.
 */
function service(name: string, build: ServiceBuild, cluster?: TestRedisCluster): Target {
  return {
    name,
    async start(redisUrl, _redisPort, point) {
      const redis: Record<string, string> = cluster
        ? { REDIS_URL: cluster.seedUrls, REDIS_MODE: 'cluster' }
        : { REDIS_URL: redisUrl }
      const env = {
        ...redis,
        SESSION_SECRET: TOKEN,
        API_TOKEN: TOKEN,
        NODE_ENV: 'production',
        // The readiness drain before a shutdown is for a load balancer; here it would only add 5 s to
        // every round, after everything is measured.
        SHUTDOWN_DELAY_MS: '0',
      }
      const processes: Running[] = []
      try {
        for (let p = 0; p < PROCESSES; p++) processes.push(await startService(env, build))
      } catch (error) {
        await Promise.all(processes.map((running) => running.stop()))
        throw error
      }
      const bases = processes.map((running) => `http://127.0.0.1:${running.port}`)
      const base = bases[0] as string
      const headers = { Authorization: `Bearer ${TOKEN}` }
      const query = bufferNames(point)
        .map((name) => `buffer=${name}`)
        .join('&')
      return {
        processes,
        redisNodes: cluster ? cluster.nodes.map((node) => `redis://${node.address}`) : [redisUrl],
        headers,
        streamUrl: (i) => {
          const at = bases[i % bases.length] as string
          return point.multi
            ? `${at}/events?${query}`
            : `${at}/buffers/${bufferName(point, i % point.buffers)}/events`
        },
        async publish(buffer, body) {
          const res = await fetch(`${base}/buffers/${buffer}/items`, {
            method: 'POST',
            headers: { ...headers, 'Content-Type': 'application/json' },
            body: JSON.stringify({ data: JSON.parse(body) }),
          })
          await res.arrayBuffer()
          return res.status === 201
        },
      }
    },
  }
}

const nodeArgs = process.env.BENCH_SERVICE_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []
const ours = service('hono-redis-service', { nodeArgs })
/** Another build of the service (BENCH_BASE_ROOT: a checkout with its dist/ built), for A/B runs. */
const baseRoot = process.env.BENCH_BASE_ROOT
const base = baseRoot ? service('service (base build)', { root: baseRoot, nodeArgs }) : undefined

const nchan: Target = {
  name: 'nginx + Nchan',
  async start(redisUrl, redisPort, point) {
    const running = await startNchan(redisPort, point.multi ? bufferNames(point) : [], PROCESSES)
    const base = `http://127.0.0.1:${running.port}`
    return {
      processes: [running],
      redisNodes: [redisUrl],
      headers: {},
      streamUrl: (i) =>
        point.multi ? `${base}/multi` : `${base}/sub/${bufferName(point, i % point.buffers)}`,
      async publish(buffer, body) {
        const res = await fetch(`${base}/pub/${buffer}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'text/json' },
          body,
        })
        await res.arrayBuffer()
        return res.status < 300
      },
    }
  },
}

interface Round {
  deliveredPct: number
  p50: number
  p99: number
  /** Server CPU (user + system) per delivered event, µs, from the first append until delivery ends. */
  cpuPerEventUs: number
  /** What IDLE_STREAMS more idle streams add to the server's RSS, per stream (the second such batch). */
  rssPerIdleKiB: number
  /** Redis connections of each process on each Redis node (process by process), at the start and at the end. */
  redisAtStart: number[]
  redisAtEnd: number[]
  /** The client processes' CPU over the publishing window, in % of one core per process. */
  clientCpuPct: number
  publishErrors: number
  /** Wall seconds of the round: from the server's start to the first append, publishing and the wait for the last deliveries, the rest. */
  seconds: { setup: number; load: number; after: number }
}

/** Deliveries expected for `total` items: item n reaches the subscribers of buffer n % buffers. */
function expectedDeliveries(point: Point, total: number): number {
  if (point.multi || point.buffers === 1) return total * point.subscribers
  let expected = 0
  for (let n = 0; n < total; n++) {
    const buffer = n % point.buffers
    expected += Math.floor((point.subscribers - buffer - 1) / point.buffers) + 1
  }
  return expected
}

const body = (n: number) => JSON.stringify({ n, t: monotonicMs() })

async function retry<T>(attempt: () => Promise<T>, seconds = 10): Promise<T> {
  const deadline = performance.now() + seconds * 1000
  for (;;) {
    try {
      return await attempt()
    } catch (error) {
      if (performance.now() > deadline) throw error
      await sleep(200)
    }
  }
}

/** A /proc figure (CPU ms, RSS KiB) summed over the server's processes. */
async function summed(server: Server, read: (pid: number) => Promise<number>): Promise<number> {
  let total = 0
  for (const running of server.processes) total += await read(running.child.pid as number)
  return total
}

/** The Redis connections each of the server's processes holds on each of its Redis nodes. */
async function redisCounts(server: Server): Promise<number[]> {
  const counts: number[] = []
  for (const running of server.processes) {
    for (const node of server.redisNodes)
      counts.push(await redisConnections(node, running.child.pid as number))
  }
  return counts
}

const stopServer = (server: Server) => Promise.all(server.processes.map((running) => running.stop()))

async function round(
  target: Target,
  point: Point,
  redis: { url: string; port: number },
  clients: ClientPool,
) {
  const roundStarted = performance.now()
  // Each round on an empty Redis: nginx with several workers was seen to replay an earlier round's messages
  // of a channel to new subscribers (over 100% delivered, latencies of seconds).
  await flushRedis(redis.url)
  const server = await target.start(redis.url, redis.port, point)
  let stopped = false
  try {
    // Warm up (scripts loaded, live reader connected) before anything is counted: one stream per process,
    // and on a cluster one per buffer, since a shard's notification connection opens when the first buffer
    // on it is followed. Nchan answers 503 until it has connected to Redis.
    const warmStreams = Math.max(server.processes.length, point.cluster ? point.buffers : 1)
    const warmUrls = Array.from({ length: warmStreams }, (_, i) => server.streamUrl(i))
    const warm = await retry(() => clients.open(warmUrls, server.headers))
    await server.publish(bufferName(point, 0), body(-1))
    await sleep(100)
    await warm.close()
    await sleep(SETTLE_MS)
    const redisAtStart = await redisCounts(server)
    const urls = Array.from({ length: point.subscribers }, (_, i) => server.streamUrl(i))
    const subscribers = await clients.open(urls, server.headers)
    await sleep(SETTLE_MS)
    await subscribers.collect()

    const total = Math.round(point.rate * SECONDS)
    const cpuBefore = await summed(server, cpuMs)
    const clientCpuBefore = await clients.cpuMs()
    let publishErrors = 0
    const started = performance.now()
    const inFlight: Promise<void>[] = []
    for (let n = 0; n < total; n++) {
      const wait = started + (n * 1000) / point.rate - performance.now()
      if (wait > 0) await sleep(wait)
      inFlight.push(
        server.publish(bufferName(point, n % point.buffers), body(n)).then(
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
    const expected = expectedDeliveries(point, total)
    const deadline = performance.now() + 5000
    while ((await subscribers.received()) < expected && performance.now() < deadline) await sleep(100)
    const cpuUsedMs = (await summed(server, cpuMs)) - cpuBefore
    const wallMs = performance.now() - started
    const loaded = performance.now()
    const clientCpuPct = (100 * ((await clients.cpuMs()) - clientCpuBefore)) / wallMs / CLIENT_PROCESSES
    const { received, latencies } = await subscribers.collect()
    latencies.sort((a, b) => a - b)

    // After the latency run, so it cannot disturb it: two more batches of idle streams. The first may fit
    // in heap that the burst's garbage left free; the second shows what each further stream costs.
    const idle = Array.from({ length: IDLE_STREAMS }, (_, i) => server.streamUrl(i))
    let rssPerIdleKiB = Number.NaN
    const batches = []
    let before = await summed(server, rssKiB)
    for (let batch = 0; batch < 2; batch++) {
      batches.push(await clients.open(idle, server.headers))
      await sleep(SETTLE_MS)
      const after = await summed(server, rssKiB)
      rssPerIdleKiB = (after - before) / IDLE_STREAMS
      before = after
    }
    const redisAtEnd = await redisCounts(server)
    for (const batch of batches) await batch.close()
    await subscribers.close()
    await stopServer(server)
    stopped = true
    return {
      deliveredPct: (100 * received) / expected,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuPerEventUs: (cpuUsedMs * 1000) / Math.max(1, received),
      rssPerIdleKiB,
      redisAtStart,
      redisAtEnd,
      clientCpuPct,
      publishErrors,
      seconds: {
        setup: (started - roundStarted) / 1000,
        load: (loaded - started) / 1000,
        after: (performance.now() - loaded) / 1000,
      },
    } satisfies Round
  } finally {
    if (!stopped) await stopServer(server)
  }
}

const line = (name: string, r: Round) =>
  `${name.padEnd(20)} delivered ${r.deliveredPct.toFixed(2).padStart(6)}%  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  CPU ${r.cpuPerEventUs.toFixed(2).padStart(6)} µs/event  RSS ${r.rssPerIdleKiB.toFixed(1).padStart(5)} KiB/idle stream  Redis conns ${r.redisAtStart.join('/')}->${r.redisAtEnd.join('/')}  client CPU ${r.clientCpuPct.toFixed(0)}%/process  publish errors ${r.publishErrors}  round s ${r.seconds.setup.toFixed(1)}+${r.seconds.load.toFixed(1)}+${r.seconds.after.toFixed(1)}`

const total = (counts: number[]) => counts.reduce((sum, count) => sum + count, 0)

/** Per process and node, the fewest (Math.min) or most (Math.max) Redis connections of any round's counts. */
const extremes = (rounds: Round[], pick: (...counts: number[]) => number) =>
  (rounds[0]?.redisAtStart ?? []).map((_, k) =>
    pick(...rounds.flatMap((r) => [r.redisAtStart[k] as number, r.redisAtEnd[k] as number])),
  )

/** Medians of every figure over the rounds; Redis connections as the extremes seen. */
function summarise(rounds: Round[]): Round {
  const of = (pick: (r: Round) => number) => median(rounds.map(pick))
  return {
    deliveredPct: Math.min(...rounds.map((r) => r.deliveredPct)),
    p50: of((r) => r.p50),
    p99: of((r) => r.p99),
    cpuPerEventUs: of((r) => r.cpuPerEventUs),
    rssPerIdleKiB: of((r) => r.rssPerIdleKiB),
    redisAtStart: extremes(rounds, Math.min),
    redisAtEnd: extremes(rounds, Math.max),
    clientCpuPct: Math.max(...rounds.map((r) => r.clientCpuPct)),
    publishErrors: rounds.reduce((sum, r) => sum + r.publishErrors, 0),
    seconds: {
      setup: of((r) => r.seconds.setup),
      load: of((r) => r.seconds.load),
      after: of((r) => r.seconds.after),
    },
  }
}

/**
 * The point's figures: ours against Nchan's, with issue 12's targets; at the `cluster` point, the service on
 * a Redis Cluster against the same service on standalone Redis, without targets but delivery and constant
 * connections (issue 11 asks for both modes' figures, not for a ratio).
 */
function figures(point: Point, us: Round, them: Round | undefined): Figure[] {
  const benchmark = `SSE fan-out: ${point.label}${SCALE === 1 ? '' : ` (scale ${SCALE})`}${PROCESSES === 1 ? '' : `, ${PROCESSES} processes`}`
  const against = point.cluster ? 'standalone' : 'Nchan'
  const connections = (r: Round) => Math.max(...r.redisAtEnd)
  const versus = (figure: string, unit: string, pick: (r: Round) => number, nchanTarget?: string): Figure => {
    const target = point.cluster ? undefined : nchanTarget
    const value = pick(us)
    if (!them) return { benchmark, figure, unit, ours: value }
    const ratio = value / pick(them)
    return {
      benchmark,
      figure,
      unit,
      ours: value,
      baseline: { name: against, value: pick(them) },
      ratio,
      ...(target && { target, pass: ratio <= 1 }),
    }
  }
  return [
    {
      benchmark,
      figure: 'delivered (lowest round)',
      unit: '%',
      ours: us.deliveredPct,
      ...(them && { baseline: { name: against, value: them.deliveredPct } }),
      target: '100%',
      pass: us.deliveredPct === 100,
    },
    versus('server CPU per delivered event', 'µs', (r) => r.cpuPerEventUs, '<= 1.0x Nchan'),
    versus('p50 latency, append to receipt', 'ms', (r) => r.p50, '<= 1.0x Nchan'),
    versus('p99 latency, append to receipt', 'ms', (r) => r.p99, '<= 1.0x Nchan'),
    {
      ...versus(`RSS per idle stream (${IDLE_STREAMS} more)`, 'KiB', (r) => r.rssPerIdleKiB),
      ...(!point.cluster && { target: '<= 10 KiB', pass: us.rssPerIdleKiB <= 10 }),
    },
    {
      benchmark,
      figure: `Redis connections per process${point.cluster ? ' and node' : ''}, fewest to most over the rounds (${us.redisAtStart.join('/')} to ${us.redisAtEnd.join('/')})`,
      unit: '',
      ours: connections(us),
      ...(them && { baseline: { name: against, value: connections(them) } }),
      ...(them && point.cluster && { ratio: connections(us) / connections(them) }),
      target: 'constant',
      pass: us.redisAtStart.join('/') === us.redisAtEnd.join('/'),
    },
    ...(point.cluster
      ? [versus('Redis connections per process, over all nodes', '', (r) => total(r.redisAtEnd) / PROCESSES)]
      : []),
    {
      benchmark,
      figure: `client CPU, % of a core per client process (most of any round, ${CLIENT_PROCESSES} processes)`,
      unit: '%',
      ours: us.clientCpuPct,
      ...(them && { baseline: { name: against, value: them.clientCpuPct } }),
    },
  ]
}

/** A 3-master Redis Cluster, checked to serve `point`'s buffers from every master. */
async function startCluster(point: Point): Promise<TestRedisCluster> {
  const started = await TestRedisCluster.start({ masters: 3 })
  const perMaster = [...(await buffersPerMaster(started.url, bufferNames(point))).values()]
  console.log(`Redis Cluster of 3 masters; the point's buffers per master: ${perMaster.join('/')}`)
  if (perMaster.some((count) => count === 0)) {
    await started.stop()
    throw new Error(`the ${point.id} point's buffers leave a master without any: ${perMaster.join('/')}`)
  }
  return started
}

buildService()
const why = process.env.BENCH_NCHAN === '0' ? 'BENCH_NCHAN=0' : nchanUnavailable()
const targets = [ours, ...(base ? [base] : []), ...(why ? [] : [nchan])]
const redis = await startRedis()
const clients = await startClients(CLIENT_PROCESSES)
const reported: Figure[] = []
/** The `cluster` point's Redis Cluster, started when that point comes. */
let cluster: TestRedisCluster | undefined
try {
  for (const point of POINTS) {
    console.log(
      `\nSSE fan-out, ${point.id}: ${point.label}; ${point.subscribers} streams, ${ROUNDS} rounds of ${SECONDS} s${PROCESSES === 1 ? '' : `; ${PROCESSES} service processes, nginx with ${PROCESSES} workers`}`,
    )
    if (point.cluster) cluster ??= await startCluster(point)
    const pointTargets = point.cluster
      ? [service('Redis Cluster', { nodeArgs }, cluster), service('standalone Redis', { nodeArgs })]
      : targets
    const compared = point.cluster || !why
    const results = pointTargets.map(() => [] as Round[])
    for (let r = 0; r < ROUNDS; r++) {
      const order = pointTargets.map((_, index) => index)
      if (r % 2 === 1) order.reverse()
      for (const index of order) {
        const target = pointTargets[index] as Target
        const result = await round(target, point, redis, clients)
        results[index]?.push(result)
        console.log(`round ${r + 1} ${line(target.name, result)}`)
      }
    }
    const medians = results.map(summarise)
    for (const [index, target] of pointTargets.entries()) {
      console.log(`median  ${line(target.name, medians[index] as Round)}`)
    }
    const us = medians[0] as Round
    const them = compared ? medians[pointTargets.length - 1] : undefined
    if (!compared) console.log(`nginx + Nchan: not run: ${why}`)
    reported.push(...figures(point, us, them))
  }
  for (const f of reported) {
    const ratio = f.ratio === undefined ? '' : ` ${f.ratio.toFixed(3)}x`
    const verdict = f.pass === undefined ? '' : f.pass ? ' PASS' : ' MISS'
    console.log(`${f.benchmark} | ${f.figure}: ${f.ours.toFixed(2)} ${f.unit}${ratio}${verdict}`)
  }
  reportFigures(reported)
} finally {
  await clients.stop()
  await cluster?.stop()
  await redis.stop()
}
