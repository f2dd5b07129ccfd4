import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ServiceApp } from '../../src/app.js'
import { buildTestApp } from '../support/app.js'
import { appendNumbers, bufferName, servedUrl } from '../support/buffers.js'
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js'
import { grantToken } from '../support/grants.js'

/**
 * The service called from another origin's page in a real browser (Debian's Chromium, driven by
 * playwright-core; never a downloaded browser). The service is at http://localhost:<p1>, the pages at
 * http://localhost:<p2> (listed in ALLOWED_ORIGINS) and http://localhost:<p3> (not listed): other
 * origins, but the same site, as a sibling subdomain would be, so the SameSite=Lax cookie is set and sent.
 */
/** A server of one blank page: an origin for the browser to run scripts in. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end('<!doctype html><title>client</title>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` }
}

const profile = mkdtempSync(join(tmpdir(), 'hrs-chromium-cors-'))
const pageServers: Server[] = []
let context: BrowserContext
let app: ServiceApp
let service: string
let allowedOrigin: string
let otherOrigin: string

beforeAll(async () => {
  const allowed = await pageServer()
  const other = await pageServer()
  pageServers.push(allowed.server, other.server)
  allowedOrigin = allowed.origin
  otherOrigin = other.origin
  ;({ app } = await buildTestApp(inject('redisUrl'), { ALLOWED_ORIGINS: allowedOrigin }))
  service = (await servedUrl(app)).replace('127.0.0.1', 'localhost')
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  })
})
afterAll(async () => {
  await context?.close()
  for (const server of pageServers) server.close()
  rmSync(profile, { recursive: true, force: true })
})

async function openAt(origin: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(`${origin}/`)
  return page
}

const sessionCookies = async () => (await context.cookies(service)).filter((cookie) => cookie.name === 'sid')

describe('another origin, in Chromium', () => {
  it("cannot create a session from an unlisted origin's page, with a form-like request or a CORS one", async () => {
    const page = await openAt(otherOrigin)
    const outcome = await page.evaluate(async (url) => {
      // What a form (or a script imitating one) sends: no preflight, an opaque answer.
      await fetch(`${url}/sessions`, { method: 'POST', mode: 'no-cors', credentials: 'include' })
      try {
        await fetch(`${url}/sessions`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        })
        return 'read'
      } catch (error) {
        return String(error)
      }
    }, service)
    expect(outcome).toMatch(/TypeError/)
    // The no-cors POST reached the service (it needs no preflight) and was refused: no cookie was set.
    expect(await sessionCookies()).toEqual([])
    await page.close()
  })

  it("gets a session and reads it with credentialed, preflighted fetches from a listed origin's page", async () => {
    const page = await openAt(allowedOrigin)
    const grant = await grantToken({ sub: 'browser-user', read: ['*'] })
    const result = await page.evaluate(
      async ({ url, grant }) => {
        const json = { 'Content-Type': 'application/json' }
        const created = await fetch(`${url}/sessions`, {
          method: 'POST',
          credentials: 'include',
          headers: json,
          body: JSON.stringify({ grant, data: { from: 'page' } }),
        })
        const patched = await fetch(`${url}/sessions/current`, {
          method: 'PATCH',
          credentials: 'include',
          headers: json,
          body: JSON.stringify({ data: { theme: 'dark' } }),
        })
        const current = await fetch(`${url}/sessions/current`, { credentials: 'include' })
        return {
          created: created.status,
          requestId: created.headers.get('X-Request-Id'),
          patched: patched.status,
          current: current.status,
          body: await current.json(),
        }
      },
      { url: service, grant },
    )
    expect(result).toMatchObject({
      created: 201,
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      patched: 200,
      current: 200,
      body: { user: 'browser-user', data: { from: 'page', theme: 'dark' } },
    })
    expect(await sessionCookies()).toHaveLength(1)
    await page.close()
  })

  it('follows a buffer with EventSource({ withCredentials: true }) from the listed origin', async () => {
    const page = await openAt(allowedOrigin)
    const name = bufferName('cors')
    await appendNumbers(app, name, [1, 2])
    const received = await page.evaluate(
      (url) =>
        new Promise<string[]>((resolve, reject) => {
          const data: string[] = []
          const source = new EventSource(url, { withCredentials: true })
          source.onmessage = (event) => {
            data.push(event.data)
            if (data.length === 2) {
              source.close()
              resolve(data)
            }
          }
          source.onerror = () => {
            source.close()
            reject(new Error(`EventSource failed (readyState ${source.readyState})`))
          }
        }),
      `${service}/buffers/${name}/events?from=earliest`,
    )
    expect(received.map((text) => JSON.parse(text))).toEqual([1, 2])
    await page.close()
  })

  it('cannot read the stream from an unlisted origin, even with the cookie', async () => {
    const page = await openAt(otherOrigin)
    const name = bufferName('cors')
    await appendNumbers(app, name, [1])
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const source = new EventSource(url, { withCredentials: true })
          source.onmessage = () => {
            source.close()
            resolve('read')
          }
          source.onerror = () => {
            source.close()
            resolve('error')
          }
        }),
      `${service}/buffers/${name}/events?from=earliest`,
    )
    expect(outcome).toBe('error')
    await page.close()
  })
})
