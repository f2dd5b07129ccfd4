import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { bufferName, range, tokenHeaders } from '../support/buffers.js'
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * The page in a real browser: Debian's Chromium, driven by playwright-core (never a downloaded browser),
 * follows buffers with its own EventSource while the service is stopped and restarted on the same port.
 */
const redisUrl = inject('redisUrl')
const profile = mkdtempSync(join(tmpdir(), 'hrs-chromium-'))
let context: BrowserContext
const services: ServiceProcess[] = []

beforeAll(async () => {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  })
})
afterAll(async () => {
  await context?.close()
  await Promise.all(services.map((service) => service.stop()))
  rmSync(profile, { recursive: true, force: true })
})

/** The service on a port of its own, restartable on it, with what the page needs. */
async function restartableService() {
  const port = await freePort()
  const env = rawTestEnv(redisUrl, {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SSE_RETRY_MS: '250',
    SHUTDOWN_DELAY_MS: '0',
    // The page gets its grant where `npm run local` gives it one.
    DEV_GRANTS: 'true',
  })
  const start = async () => {
    const service = ServiceProcess.spawn(env)
    services.push(service)
    return { service, base: await service.listening() }
  }
  let running = await start()
  return {
    get base() {
      return running.base
    },
    async restart() {
      running.service.kill('SIGTERM')
      expect((await running.service.exited).code).toBe(0)
      running = await start()
    },
  }
}

/** The page at `base`, with a session, following `buffers` (comma-separated) from the earliest item. */
async function followOnPage(base: string, buffers: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${base}/`)
  await expect.poll(() => page.textContent('#ready'), { timeout: 10_000 }).toBe('pass')
  await page.click('#login')
  await expect.poll(() => page.textContent('#session'), { timeout: 10_000 }).toMatch(/^active until/)
  await page.fill('#buffer', buffers)
  await page.click('#follow button[type=submit]')
  await expect.poll(() => page.textContent('#state'), { timeout: 10_000 }).toBe('open')
  return page
}

/**
 * Appends `{data: {n}}` for n in 1..count to `name`, each retried whatever the service's state; only
 * acknowledged ids are pushed to `acknowledged`.
 */
async function appendAll(service: { base: string }, name: string, count: number, acknowledged: string[]) {
  for (const n of range(1, count)) {
    for (;;) {
      try {
        const res = await fetch(`${service.base}/buffers/${name}/items`, {
          method: 'POST',
          headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
          body: JSON.stringify({ data: { n } }),
        })
        if (res.status === 201) {
          acknowledged.push(...((await res.json()) as { ids: string[] }).ids)
          break
        }
      } catch {
        // The service is restarting: try again.
      }
      await sleep(25)
    }
    await sleep(20)
  }
}

/** The items the page shows: the id, the buffer (on a stream of several) and the text of each. */
const shown = (page: Page) =>
  page.$$eval('#events li[data-id]', (items) =>
    items.map((li) => ({ id: li.dataset.id, buffer: li.dataset.buffer, text: li.textContent ?? '' })),
  )

describe('the page, in Chromium', () => {
  it('follows a buffer across a service restart and ends with every item exactly once, in order', async () => {
    const service = await restartableService()
    const name = bufferName('browser')
    const page = await followOnPage(service.base, name)

    const acknowledged: string[] = []
    const appending = appendAll(service, name, 60, acknowledged)
    await expect.poll(() => acknowledged.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(20)
    await service.restart()
    await appending

    await expect.poll(async () => (await shown(page)).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(60)
    await sleep(500)
    const items = await shown(page)
    expect(items.map((item) => item.id)).toEqual(acknowledged)
    expect(items.map((item) => JSON.parse(item.text.split('  ')[2] ?? 'null').n)).toEqual(range(1, 60))
    expect(await page.$$('#events li.reset')).toHaveLength(0)
    await page.close()
  }, 60_000)

  it('follows two buffers over one EventSource across a restart, each item exactly once, in order', async () => {
    const service = await restartableService()
    const names = [bufferName('left'), bufferName('right')]
    const page = await followOnPage(service.base, names.join(', '))

    const acknowledged = names.map((): string[] => [])
    const appending = Promise.all(names.map((name, i) => appendAll(service, name, 40, acknowledged[i] ?? [])))
    await expect.poll(() => acknowledged[0]?.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(15)
    await service.restart()
    await appending

    await expect.poll(async () => (await shown(page)).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(80)
    await sleep(500)
    const items = await shown(page)
    expect(items).toHaveLength(80)
    for (const [i, name] of names.entries()) {
      const mine = items.filter((item) => item.buffer === name)
      expect(mine.map((item) => item.id)).toEqual(acknowledged[i])
      expect(mine.map((item) => JSON.parse(item.text.split('  ')[3] ?? 'null').n)).toEqual(range(1, 40))
    }
    expect(await page.$$('#events li.reset')).toHaveLength(0)
    await page.close()
  }, 60_000)
})
