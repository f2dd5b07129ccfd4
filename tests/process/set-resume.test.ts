import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { bufferName, range, type SetItem, setEventsPath, setItems, tokenHeaders } from '../support/buffers.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'
import { type SseBlock, SseStream } from '../support/sse-client.js'

/**
 * The real service, stopped with SIGTERM and started again on the same port while a client follows
 * three buffers over one stream and two of them are appended to without pause: the client reconnects
 * with the last event id it saw, as EventSource does, and must end with every item once, in order.
 */
const redisUrl = inject('redisUrl')
const services: ServiceProcess[] = []
afterAll(() => Promise.all(services.map((service) => service.stop())))

describe('a stream of several buffers across a service restart', () => {
  it('resumes each of three buffers exactly, two of them busy throughout', async () => {
    const port = await freePort()
    const env = rawTestEnv(redisUrl, {
      PORT: String(port),
      HOST: '127.0.0.1',
      SSE_RETRY_MS: '250',
      SHUTDOWN_DELAY_MS: '0',
    })
    const base = `http://127.0.0.1:${port}`
    const start = async () => {
      const service = ServiceProcess.spawn(env)
      services.push(service)
      await service.listening()
      return service
    }
    let service = await start()
    const [busy, busier, quiet] = [bufferName('busy'), bufferName('busier'), bufferName('quiet')] as const
    const acknowledged = new Map<string, string[]>([busy, busier, quiet].map((name) => [name, []]))

    /** Appends `{data: n}`, retrying whatever the service's state; only acknowledged ids count. */
    const append = async (name: string, n: number) => {
      for (;;) {
        try {
          const res = await fetch(`${base}/buffers/${name}/items`, {
            method: 'POST',
            headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
            body: JSON.stringify({ data: n }),
          })
          if (res.status === 201) {
            acknowledged.get(name)?.push(...((await res.json()) as { ids: string[] }).ids)
            return
          }
          await res.body?.cancel()
        } catch {
          // The service is restarting: try again.
        }
        await sleep(20)
      }
    }
    await append(quiet, 1)

    // The client: one stream, reopened with its last event id whenever it ends, as EventSource does.
    const received: SetItem[] = []
    const resets: SseBlock[] = []
    let cursor: string | undefined
    let current: SseStream | undefined
    let streamsOpened = 0
    let following = true
    const follow = async () => {
      while (following) {
        const query = cursor === undefined ? '&from=earliest' : ''
        const headers = { ...tokenHeaders, ...(cursor !== undefined && { 'Last-Event-ID': cursor }) }
        const res = await fetch(`${base}${setEventsPath([busy, busier, quiet])}${query}`, { headers }).catch(
          () => null,
        )
        if (res?.status !== 200) {
          await res?.body?.cancel()
          await sleep(50)
          continue
        }
        streamsOpened++
        current = new SseStream(res)
        for (let block = await current.nextBlock(60_000); block; block = await current.nextBlock(60_000)) {
          if (block.event === 'reset') resets.push(block)
          else if (block.data !== undefined) received.push(...setItems([block]))
        }
        cursor = current.lastEventId || cursor
      }
    }
    const followed = follow()

    const appendAll = (name: string, pauseMs: number) => async () => {
      for (const n of range(1, 40)) {
        await append(name, n)
        await sleep(pauseMs)
      }
    }
    const appending = Promise.all([appendAll(busy, 15)(), appendAll(busier, 5)()])
    await expect.poll(() => acknowledged.get(busy)?.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(10)
    service.kill('SIGTERM')
    expect((await service.exited).code).toBe(0)
    service = await start()
    await appending
    await append(quiet, 2)

    const total = () => [...acknowledged.values()].reduce((sum, ids) => sum + ids.length, 0)
    await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(total())
    await sleep(300)
    following = false
    await current?.close()
    await followed

    expect(resets).toEqual([])
    for (const [name, ids] of acknowledged) {
      const mine = received.filter((item) => item.buffer === name)
      expect(mine.map((item) => item.id)).toEqual(ids)
      expect(mine.map((item) => item.data)).toEqual(name === quiet ? [1, 2] : range(1, 40))
    }
    // The shutdown ended the first stream; the client resumed from its cursor.
    expect(streamsOpened).toBeGreaterThanOrEqual(2)
  }, 30_000)
})
