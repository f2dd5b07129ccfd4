import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * `GET /docs` in a real browser (Debian's Chromium through playwright-core): the reference renders
 * every documented operation, under the page's Content-Security-Policy, with every file it loads
 * served by the service itself (nothing from a CDN).
 */
const redisUrl = inject('redisUrl')
const scratch = mkdtempSync(join(tmpdir(), 'hrs-reference-'))
let browser: Browser
let service: ServiceProcess
let base: string

beforeAll(async () => {
  service = ServiceProcess.spawn(rawTestEnv(redisUrl, { PORT: String(await freePort()), HOST: '127.0.0.1' }))
  base = await service.listening()
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS })
})
afterAll(async () => {
  await browser?.close()
  await service?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

describe('the API reference at /docs, in Chromium', () => {
  it('lists every documented operation, loading nothing from elsewhere and breaking no CSP rule', async () => {
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )

    const page = await browser.newPage()
    const requested: string[] = []
    const complaints: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    page.on('requestfailed', (request) => complaints.push(`failed: ${request.url()}`))
    page.on('response', (response) => {
      if (response.status() >= 400) complaints.push(`${response.status()}: ${response.url()}`)
    })
    page.on('console', (message) => {
      if (message.type() === 'error') complaints.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => complaints.push(`page error: ${error.message}`))
    const res = await page.goto(`${base}/docs`)
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'")

    const summaries = page.locator('.opblock-summary')
    await expect.poll(() => summaries.count(), { timeout: 15_000 }).toBe(documented.length)
    const listed = await summaries.evaluateAll((elements) =>
      elements.map(
        (element) =>
          `${element.querySelector('.opblock-summary-method')?.textContent} ${element.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
      ),
    )
    expect(listed.sort()).toEqual(documented.sort())
    const text = (await page.locator('body').textContent()) ?? ''
    for (const path of Object.keys(document.paths)) expect(text).toContain(path)

    const screenshot = join(scratch, 'docs.png')
    await page.screenshot({ path: screenshot, fullPage: true })
    expect(statSync(screenshot).size).toBeGreaterThan(10_000)
    expect(requested.filter((url) => !url.startsWith(`${base}/`) && !url.startsWith('data:'))).toEqual([])
    expect(complaints).toEqual([])
    await page.close()
  })
})
