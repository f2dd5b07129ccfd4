import { afterAll, describe, expect, it } from 'vitest'
import { keys } from '../../src/redis/keys.js'
import { buildAppOn } from '../support/app.js'
import { bufferName, openEvents, tokenHeaders } from '../support/buffers.js'
import { redisCli } from '../support/redis-cluster.js'
import { replicaOnline } from '../support/redis-process.js'
import { SENTINEL_MASTER_NAME, TestSentinelSet } from '../support/redis-sentinel.js'
import type { SseStream } from '../support/sse-client.js'

/**
 * A failover under Sentinel with REDIS_APPEND_WAIT_REPLICAS=1 (one primary, one replica, three
 * sentinels): appends run without pause and an SSE client follows the buffer, reconnecting with
 * Last-Event-ID as EventSource does, while the primary is SIGKILLed, then restarted (it rejoins as the
 * new primary's replica). No append that got a 201 is lost (each had reached the replica, which is
 * promoted), and the client gets each of them exactly once, in order.
 */

const COMMAND_TIMEOUT_MS = 1000
const WAIT_TIMEOUT_MS = 300
const sentinels = await TestSentinelSet.start()
afterAll(() => sentinels.stop())
await sentinels.waitForQuorum()
await replicaOnline(sentinels.primary.port)

const { app } = await buildAppOn(`redis://${SENTINEL_MASTER_NAME}`, {
  REDIS_MODE: 'sentinel',
  REDIS_SENTINELS: sentinels.sentinelAddresses,
  REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
  REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
  REDIS_APPEND_WAIT_REPLICAS: '1',
  REDIS_APPEND_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
  READY_TIMEOUT_MS: '500',
  SSE_RETRY_MS: '200',
  RATE_LIMIT_APPENDS_PER_MINUTE: '1000000',
})

interface Outcome {
  n: number
  status: number
  ms: number
  id?: string
}

async function append(name: string, n: number): Promise<Outcome> {
  const started = performance.now()
  const res = await app.request(`/buffers/${name}/items`, {
    method: 'POST',
    headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: n }),
  })
  const body = (await res.json()) as { ids?: string[] }
  return { n, status: res.status, ms: performance.now() - started, ...(body.ids && { id: body.ids[0] }) }
}

/**
 * Follows `name` as EventSource does: when the stream ends, or cannot be opened, it opens it again
 * after a short pause with the last id it saw as Last-Event-ID. Collects every item's id until stopped.
 */
function follow(name: string) {
  const ids: string[] = []
  let stopped = false
  let reconnects = 0
  let stream: SseStream | undefined
  const done = (async () => {
    while (!stopped) {
      try {
        const lastEventId = stream?.lastEventId
        // One URL throughout, as an EventSource has; Last-Event-ID, when sent, decides where it resumes.
        stream = await openEvents(app, name, {
          query: '?from=earliest',
          ...(lastEventId && { headers: { 'Last-Event-ID': lastEventId } }),
        })
        for (;;) {
          const block = await stream.nextBlock(60_000)
          if (block === null) break
          if (block.data !== undefined && block.id !== undefined) ids.push(block.id)
        }
      } catch {
        // Not open (a 503 while Redis is away), or cut: EventSource tries again after `retry:`.
      }
      if (stopped) break
      reconnects++
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  })()
  return {
    ids,
    get reconnects() {
      return reconnects
    },
    async stop() {
      stopped = true
      await stream?.close()
      await done
    },
  }
}

const readiness = async () => (await app.request('/readyz')).status

describe('a Sentinel failover with appends that wait for the replica', () => {
  it('loses no acknowledged append, and the SSE client gets each exactly once, in order', async () => {
    const name = bufferName('failover-wait')
    const client = follow(name)
    const outcomes: Outcome[] = []
    let n = 0
    for (let i = 0; i < 20; i++) outcomes.push(await append(name, n++))
    expect(outcomes.filter(({ status }) => status !== 201)).toEqual([])

    const promoted = sentinels.replica.address
    await sentinels.primary.kill()
    const readinessSeen: number[] = []
    const deadline = performance.now() + 25_000
    let rejoined = false
    let confirmedAgain = 0
    // Appends without pause, and readiness, until the replica is promoted; then the old primary comes
    // back (the sentinels make it the new primary's replica): until then the new primary has no replica,
    // and WAIT 1 cannot be satisfied, so every append is a 503.
    for (;;) {
      const [outcome, ready] = await Promise.all([append(name, n++), readiness()])
      outcomes.push(outcome)
      if (readinessSeen.at(-1) !== ready) readinessSeen.push(ready)
      if (!rejoined && readinessSeen.includes(503) && ready === 200) {
        rejoined = true
        await sentinels.primary.restart()
      }
      if (rejoined && outcome.status === 201) confirmedAgain++
      if (confirmedAgain >= 10) break
      if (performance.now() > deadline) {
        throw new Error(`no failover: ${JSON.stringify({ readinessSeen, last: outcomes.slice(-3) })}`)
      }
    }
    expect(await sentinels.masterAddress()).toBe(promoted)
    // Readiness is asked only after the kill: 503 until the promotion, then 200. The first answer may
    // still be a 200 if it was served before the closed socket's event ran; it is never a 200 after that.
    expect(readinessSeen.slice(readinessSeen[0] === 200 ? 1 : 0).slice(0, 2)).toEqual([503, 200])
    expect(readinessSeen.at(-1)).toBe(200)

    // Never a 500, never a hang: 201 or 503, each within the command timeout (and some slack).
    expect(new Set(outcomes.map(({ status }) => status))).toEqual(new Set([201, 503]))
    expect(Math.max(...outcomes.map(({ ms }) => ms))).toBeLessThan(COMMAND_TIMEOUT_MS + 1000)

    // Every acknowledged append is on the new primary.
    const acknowledged = outcomes.filter(({ status }) => status === 201).map(({ id }) => id as string)
    const [host, port] = promoted.split(':')
    const stored = JSON.parse(
      await redisCli([
        '-h',
        String(host),
        '-p',
        String(port),
        '--json',
        'xrange',
        keys.bufferItems(name),
        '-',
        '+',
      ]),
    ) as [string, unknown][]
    const storedIds = new Set(stored.map(([id]) => id))
    expect(acknowledged.filter((id) => !storedIds.has(id))).toEqual([])

    // The client got every acknowledged item, once each and in order (and perhaps some of the 503s').
    const last = acknowledged.at(-1) as string
    const until = performance.now() + 10_000
    while (!client.ids.includes(last) && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await client.stop()
    const delivered = client.ids
    expect(new Set(delivered).size).toBe(delivered.length)
    expect([...delivered].sort(byId)).toEqual(delivered)
    expect(delivered.filter((id) => acknowledged.includes(id))).toEqual(acknowledged)
  }, 40_000)
})

/** Stream ids in their order: milliseconds, then sequence. */
function byId(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number)
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number)
  return aMs - bMs || aSeq - bSeq
}
