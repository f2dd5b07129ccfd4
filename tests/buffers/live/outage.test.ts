import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { buildTestApp } from '../../support/app.js'
import {
  appendNumbers,
  bufferName,
  datas,
  openEvents,
  range,
  subscriberCount,
  tokenHeaders,
} from '../../support/buffers.js'
import { grantToken } from '../../support/grants.js'
import { TestRedisServer } from '../../support/redis-server.js'

// Our own Redis, persisted to an append-only file in a directory of its own, so a restart is an
// outage, not data loss.
const dataDir = mkdtempSync(join(tmpdir(), 'hrs-outage-'))
const server = await TestRedisServer.start([
  '--appendonly',
  'yes',
  '--appendfsync',
  'always',
  '--dir',
  dataDir,
])
afterAll(async () => {
  await server.stop()
  rmSync(dataDir, { recursive: true, force: true })
})
const redisUrl = await server.url()

interface Health {
  status: string
  checks: Record<string, [{ status: string; output?: string }]>
}

describe('live delivery through Redis trouble', async () => {
  const { app, client } = await buildTestApp(redisUrl, {
    SSE_HEARTBEAT_MS: '100',
    REDIS_COMMAND_TIMEOUT_MS: '300',
  })
  const readiness = async () => {
    const res = await app.request('/readyz')
    return { code: res.status, body: (await res.json()) as Health }
  }

  /** Retries an append until Redis takes it: only acknowledged items count. */
  async function appendWhenUp(name: string, numbers: number[]): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await appendNumbers(app, name, numbers)
        return
      } catch {
        await sleep(100)
      }
    }
    throw new Error('Redis did not come back')
  }

  it('keeps streams open with heartbeats through an outage, then delivers from the last id sent', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant: await grantToken({ read: [name] }) }),
    })
    const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    const stream = await openEvents(app, name)
    await appendNumbers(app, name, range(1, 10))
    expect(datas(await stream.events(10))).toEqual(range(1, 10))
    expect((await readiness()).code).toBe(200)

    await server.stop()
    const heartbeats: string[] = []
    for (let i = 0; i < 3; i++) heartbeats.push(...((await stream.nextBlock(1000))?.comments ?? []))
    expect(heartbeats).toEqual(['heartbeat', 'heartbeat', 'heartbeat'])
    const down = await readiness()
    expect(down.code).toBe(503)
    expect(down.body.checks['sse:liveReader']?.[0].status).toBe('fail')
    // A new subscriber meanwhile: a browser (EventSource) is told to retry, as any other status would make
    // it give up for good; any other client sees the 503.
    const browser = await app.request(`/buffers/${name}/events`, {
      headers: { ...tokenHeaders, Accept: 'text/event-stream' },
    })
    expect(browser.status).toBe(200)
    expect(browser.headers.get('connection')).toBe('close')
    expect(await browser.text()).toMatch(/^retry: \d+\n\n$/)
    const other = await app.request(`/buffers/${name}/events`, { headers: tokenHeaders })
    expect(other.status).toBe(503)
    expect(other.headers.get('retry-after')).toBe('1')
    // A browser with its session cookie, whose session Redis cannot read now: told to retry too.
    const browserSession = await app.request(`/buffers/${name}/events`, {
      headers: { Cookie: cookie, Accept: 'text/event-stream' },
    })
    expect(browserSession.status).toBe(200)
    expect(await browserSession.text()).toMatch(/^retry: \d+\n\n$/)

    await server.restart()
    await appendWhenUp(name, range(11, 20))
    expect(datas(await stream.events(10, 10_000))).toEqual(range(11, 20))
    await expect.poll(async () => (await readiness()).code, { timeout: 5000 }).toBe(200)
    expect(await stream.quietFor(300)).toBe(true)
    await stream.close()
  })

  it('fails readiness when only the live reader is disconnected, while PING on the command connection passes', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const stream = await openEvents(app, name)
    await appendNumbers(app, name, [1])
    expect(datas(await stream.events(1))).toEqual([1])

    // The reader's socket is killed, and a password it does not have keeps it from reconnecting;
    // the command connection stays authenticated and answers PING.
    const reader = (await client.clientList()).find((entry) => entry.cmd === 'xread')
    expect(reader).toBeDefined()
    await client.configSet('requirepass', 'only-the-command-connection-is-logged-in')
    try {
      await client.sendCommand(['CLIENT', 'KILL', 'ID', String(reader?.id)])
      await expect.poll(async () => (await readiness()).code, { timeout: 3000 }).toBe(503)
      const { body } = await readiness()
      expect(body.checks['redis:responseTime']?.[0].status).toBe('pass')
      expect(body.checks['sse:liveReader']?.[0]).toMatchObject({
        status: 'fail',
        output: expect.stringMatching(/live reader/),
      })
      await appendNumbers(app, name, [2])
    } finally {
      await client.configSet('requirepass', '')
    }
    // Back: delivery resumes from where the reader stopped, and readiness passes again.
    expect(datas(await stream.events(1, 5000))).toEqual([2])
    await expect.poll(async () => (await readiness()).code, { timeout: 5000 }).toBe(200)
    await stream.close()
  })

  it('passes readiness with no subscribers, whatever the reader does', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const first = await openEvents(app, name)
    await appendNumbers(app, name, [1])
    expect(datas(await first.events(1))).toEqual([1])
    const reader = (await client.clientList()).find((entry) => entry.cmd === 'xread')
    expect(reader).toBeDefined()
    await first.close()
    await expect.poll(() => subscriberCount(app, name)).toBe(0)

    // With nobody subscribed, the reader's connection is killed and kept from logging in again.
    await client.configSet('requirepass', 'only-the-command-connection-is-logged-in')
    try {
      await client.sendCommand(['CLIENT', 'KILL', 'ID', String(reader?.id)])
      await expect
        .poll(async () => (await client.clientList()).some((entry) => entry.id === reader?.id))
        .toBe(false)
      // For well past the reader's first-attempt allowance (the 300 ms command timeout), after which a
      // reader that cannot get back counts as down (the control below): without subscribers, it does not matter.
      for (let check = 0; check < 8; check++) {
        const { code, body } = await readiness()
        expect(code).toBe(200)
        expect(body.checks['sse:liveReader']?.[0].status).toBe('pass')
        await sleep(150)
      }

      // The control: the same reader, with a subscriber that needs it, fails readiness.
      const second = await openEvents(app, name)
      await expect.poll(async () => (await readiness()).code, { timeout: 5000 }).toBe(503)
      expect((await readiness()).body.checks['sse:liveReader']?.[0].status).toBe('fail')
      await second.close()
      await expect.poll(() => subscriberCount(app, name)).toBe(0)
      await expect.poll(async () => (await readiness()).code, { timeout: 3000 }).toBe(200)
    } finally {
      await client.configSet('requirepass', '')
    }
  })
})
