import { expect } from 'vitest'
import { rawTestEnv, TEST_API_TOKEN } from '../../support/env.js'
import { ServiceProcess } from '../../support/service-process.js'
import { caughtUp, deliveryProblems, ReconnectingEventSource } from './event-source.js'
import { sleep } from './http.js'
import { MemoryProbe, type MemorySample } from './memory.js'
import { DurableRedis } from './redis-process.js'
import { Appenders, ReadinessProbe, storedIds } from './traffic.js'

/**
 * The scenario shared by the Redis crash and Redis frozen suites: the real service (`node dist/main.js`)
 * on a durable Redis, steady appends from several keep-alive clients, SSE subscribers that reconnect as
 * EventSource does, and a readiness probe; then `rounds` faults, each injected and undone by the suite.
 * It measures and returns; the suite asserts.
 */

export const COMMAND_TIMEOUT_MS = 2000
const APPENDERS = 4
const SUBSCRIBERS = 3
const BUFFER = 'faults'
/** A request unanswered after this is a hang (far beyond every bound the suites check). */
const HANG_MS = 10_000

export interface Fault {
  /** Breaks Redis (SIGKILL, SIGSTOP). */
  inject(redis: DurableRedis): Promise<void>
  /** Undoes it (restart on the same port and directory, SIGCONT); resolves when Redis answers again. */
  recover(redis: DurableRedis): Promise<void>
  /** How long Redis stays broken. */
  downMs: number
}

export interface RoundFigures extends MemorySample {
  /** Ms from the fault to the first /readyz 503; undefined if none came. */
  readyFailMs: number | undefined
  /** Ms from Redis answering again to the first /readyz 200; undefined if none came. */
  readyBackMs: number | undefined
  // Memory after the round, once it served again, after a full GC (MemorySample).
  /** Appends answered during the round: 201 and 503. */
  acknowledged: number
  failed: number
}

export interface FaultReport {
  /** Memory before the first fault, after a full GC. */
  before: MemorySample
  rounds: RoundFigures[]
  appends: number
  acknowledged: number
  /** Appends answered 503, and the slowest of those answers. */
  failed503: number
  slowest503Ms: number
  /** Anything but a 201 or a 503 (a 500, a reset, a hang), as `status error` lines. */
  badReplies: string[]
  /** Acknowledged ids that paging through the buffer afterwards did not find. */
  missingFromBuffer: string[]
  storedItems: number
  subscriberProblems: string[]
  subscriberReconnects: number[]
  itemsPerSubscriber: number[]
  /** The service's exit, if it exited (it must not). */
  serviceExit: string | undefined
}

export async function runRedisFaults(fault: Fault, rounds: number): Promise<FaultReport> {
  const redis = await DurableRedis.start()
  const memory = new MemoryProbe()
  const service = ServiceProcess.spawn(
    rawTestEnv(redis.url, {
      ...memory.env,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      READY_TIMEOUT_MS: '1000',
    }),
  )
  const auth = { Authorization: `Bearer ${TEST_API_TOKEN}` }
  const subscribers: ReconnectingEventSource[] = []
  let appenders: Appenders | undefined
  let probe: ReadinessProbe | undefined
  try {
    const base = await service.listening()
    const pid = service.child.pid as number
    for (let i = 0; i < SUBSCRIBERS; i++) {
      subscribers.push(
        new ReconnectingEventSource(`${base}/buffers/${BUFFER}/events?from=earliest`, auth).start(),
      )
    }
    probe = new ReadinessProbe(`${base}/readyz`).start()
    appenders = new Appenders(() => `${base}/buffers/${BUFFER}/items`, auth, {
      clients: APPENDERS,
      pauseMs: 10,
      timeoutMs: HANG_MS,
    }).start()
    await sleep(2000)
    const before = await memory.sample(pid)
    const figures: RoundFigures[] = []
    for (let round = 0; round < rounds; round++) {
      const first = appenders.appends.length
      const faultAt = performance.now()
      await fault.inject(redis)
      await sleep(fault.downMs)
      await fault.recover(redis)
      const backAt = performance.now()
      // Served again, then a steady stretch before the next fault.
      const until = backAt + 5000
      while (performance.now() < until && probe.firstAfter(backAt, 200) === undefined) await sleep(50)
      await sleep(2500)
      const answered = appenders.appends.slice(first)
      figures.push({
        readyFailMs: probe.firstAfter(faultAt, 503),
        readyBackMs: probe.firstAfter(backAt, 200),
        ...(await memory.sample(pid)),
        acknowledged: answered.filter((a) => a.reply.status === 201).length,
        failed: answered.filter((a) => a.reply.status === 503).length,
      })
    }
    await appenders.stop()
    await probe.stop()

    const acknowledged = appenders.acknowledged.map((a) => a.id as string)
    // Subscribers catch up with everything acknowledged (bounded), then stop.
    await caughtUp(subscribers, acknowledged, 15_000)
    const stored = await storedIds(base, BUFFER, auth)
    const storedSet = new Set(stored)
    const failures = appenders.appends.filter((a) => a.reply.status === 503)
    const report: FaultReport = {
      before,
      rounds: figures,
      appends: appenders.appends.length,
      acknowledged: acknowledged.length,
      failed503: failures.length,
      slowest503Ms: Math.max(0, ...failures.map((a) => a.reply.ms)),
      badReplies: appenders.appends
        .filter((a) => a.reply.status !== 201 && a.reply.status !== 503)
        .map(
          (a) =>
            `${a.reply.status} ${a.reply.error ?? a.reply.body.slice(0, 120)} after ${a.reply.ms.toFixed(0)} ms`,
        ),
      missingFromBuffer: acknowledged.filter((id) => !storedSet.has(id)),
      storedItems: stored.length,
      subscriberProblems: subscribers.flatMap((s, i) => deliveryProblems(`subscriber ${i}`, s, acknowledged)),
      subscriberReconnects: subscribers.map((s) => s.reconnects),
      itemsPerSubscriber: subscribers.map((s) => s.ids.length),
      serviceExit:
        service.child.exitCode === null && service.child.signalCode === null
          ? undefined
          : `exit ${service.child.exitCode} signal ${service.child.signalCode}: ${service.stderr.slice(-500)}`,
    }
    return report
  } finally {
    for (const subscriber of subscribers) subscriber.close()
    await appenders?.stop()
    await probe?.stop()
    await service.stop()
    await redis.stop()
    memory.dispose()
  }
}

/**
 * What every Redis fault must leave true, whatever the fault: the service never exited nor answered
 * anything but 201 or 503; every acknowledged append is in the buffer; every subscriber is exact; each 503
 * came within REDIS_COMMAND_TIMEOUT_MS + 500 ms; each round saw failed appends, readiness failing within
 * 2 s of the fault and passing within 2 s of the recovery; memory stayed flat. `fault` and `recovery` name
 * the two events in the messages.
 */
export function expectFaultContract(
  report: FaultReport,
  { fault, recovery }: { fault: string; recovery: string },
) {
  expect(report.serviceExit).toBeUndefined()
  expect(report.badReplies).toEqual([])
  expect(report.missingFromBuffer).toEqual([])
  expect(report.subscriberProblems).toEqual([])
  expect(report.slowest503Ms).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 500)
  for (const [index, round] of report.rounds.entries()) {
    const label = `round ${index + 1}`
    expect(round.failed, `${label}: appends that failed during the ${fault}`).toBeGreaterThan(0)
    expect(round.readyFailMs, `${label}: /readyz 503 after the ${fault}`).toBeLessThanOrEqual(2000)
    expect(round.readyBackMs, `${label}: /readyz 200 after the ${recovery}`).toBeLessThanOrEqual(2000)
  }
  expectStableMemory(report)
}

/**
 * Memory stays flat across rounds: measured after a full GC once each round has recovered, the heap in use
 * and the RSS of the last rounds stay within a margin of the first round's. A leak per outage (a retained
 * error, command, or connection per failure; hundreds of failures a round) adds up past it.
 */
export function expectStableMemory(report: FaultReport): void {
  const [first, ...rest] = report.rounds
  if (!first) throw new Error('no rounds')
  for (const round of rest) {
    expect(round.heapMiB - first.heapMiB, 'heap growth since round 1 (MiB)').toBeLessThan(HEAP_MARGIN_MIB)
    expect(round.rssMiB - first.rssMiB, 'RSS growth since round 1 (MiB)').toBeLessThan(RSS_MARGIN_MIB)
  }
}

/** Seen here: heap after a full GC moves by about 1 MiB over three rounds, and stays flat over eight. */
const HEAP_MARGIN_MIB = 5
/** RSS also carries allocator and V8 page retention, so a wider margin. */
const RSS_MARGIN_MIB = 24

/** The report as a few lines for the CI log. */
export function describeReport(name: string, report: FaultReport): string {
  const rounds = report.rounds
    .map(
      (r, i) =>
        `  round ${i + 1}: /readyz 503 after ${r.readyFailMs?.toFixed(0) ?? 'never'} ms, 200 ${r.readyBackMs?.toFixed(0) ?? 'never'} ms after Redis answered; ${r.acknowledged} appends acknowledged, ${r.failed} answered 503; RSS ${r.rssMiB.toFixed(1)} MiB, heap used ${r.heapMiB.toFixed(1)} MiB`,
    )
    .join('\n')
  return [
    `${name}, ${report.rounds.length} rounds: ${report.appends} appends, ${report.acknowledged} acknowledged (201), ${report.failed503} answered 503 (slowest ${report.slowest503Ms.toFixed(0)} ms, bound ${COMMAND_TIMEOUT_MS + 500} ms), ${report.badReplies.length} other`,
    `  buffer holds ${report.storedItems} items; acknowledged but missing: ${report.missingFromBuffer.length}`,
    `  subscribers: ${report.itemsPerSubscriber.join(' / ')} items, ${report.subscriberReconnects.join(' / ')} reconnects, problems: ${report.subscriberProblems.length}`,
    `  before the first fault: RSS ${report.before.rssMiB.toFixed(1)} MiB, heap used ${report.before.heapMiB.toFixed(1)} MiB`,
    rounds,
  ].join('\n')
}
