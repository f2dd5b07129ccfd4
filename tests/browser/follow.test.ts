import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type BrowserContext, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { bufferName, range, tokenHeaders } from '../support/buffers.js'
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * The page in a real browser: Debian's Chromium, driven by playwright-core (never a downloaded browser),
 * follows a buffer with its own EventSource while the service is stopped and restarted on the same port.
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

describe('the page, in Chromium', () => {
  it('follows a buffer across a service restart and ends with every item exactly once, in order', async () => {
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
    let { service, base } = await start()

    const page = await context.newPage()
    await page.goto(`${base}/`)
    await expect.poll(() => page.textContent('#ready'), { timeout: 10_000 }).toBe('pass')
    await page.click('#login')
    await expect.poll(() => page.textContent('#session'), { timeout: 10_000 }).toMatch(/^active until/)
    const name = bufferName('browser')
    await page.fill('#buffer', name)
    await page.click('#follow button[type=submit]')
    await expect.poll(() => page.textContent('#state'), { timeout: 10_000 }).toBe('open')

    // Appends run on their own, retrying whatever the service's state; only acknowledged ids count.
    const acknowledged: string[] = []
    const appendAll = async () => {
      for (const n of range(1, 60)) {
        for (;;) {
          try {
            const res = await fetch(`${base}/buffers/${name}/items`, {
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
    const appending = appendAll()

    await expect.poll(() => acknowledged.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(20)
    service.kill('SIGTERM')
    expect((await service.exited).code).toBe(0)
    ;({ service, base } = await start())
    await appending

    const shown = async () =>
      page.$$eval('#events li[data-id]', (items) =>
        items.map((li) => ({ id: li.dataset.id, text: li.textContent })),
      )
    await expect.poll(async () => (await shown()).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(60)
    await sleep(500)
    const items = await shown()
    expect(items.map((item) => item.id)).toEqual(acknowledged)
    expect(items.map((item) => JSON.parse(item.text?.split('  ')[2] ?? 'null').n)).toEqual(range(1, 60))
    expect(await page.$$('#events li.reset')).toHaveLength(0)
    await page.close()
  }, 60_000)
})
