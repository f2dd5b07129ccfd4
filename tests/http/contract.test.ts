import { readFileSync } from 'node:fs'
import { compileErrors, validate } from '@readme/openapi-parser'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { BufferSet } from '../../src/buffers/live/buffer-set.js'
import { buildTestApp } from '../support/app.js'
import { bufferName } from '../support/buffers.js'
import { Contract, type Operation } from '../support/contract.js'
import { rawTestEnv, TEST_API_TOKEN } from '../support/env.js'
import { bearer, grantToken } from '../support/grants.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'
import { type SseBlock, SseStream } from '../support/sse-client.js'

/**
 * The contract: the OpenAPI document the service serves is the committed doc/openapi.json, valid
 * OpenAPI 3.1, covers every route, and the running service (`node dist/main.js`) keeps it: every
 * operation called with the document's examples, and with invalid input, answers a documented status
 * with its documented headers and a body its schema accepts; event streams send documented blocks.
 */

const redisUrl = inject('redisUrl')
const METRICS_TOKEN = 'test-metrics-token-0123456789abcdefghijklmn-01'
const committed = JSON.parse(
  readFileSync(new URL('../../doc/openapi.json', import.meta.url), 'utf8'),
) as object

let service: ServiceProcess
let base: string
let served: object
let contract: Contract

beforeAll(async () => {
  service = ServiceProcess.spawn(
    rawTestEnv(redisUrl, {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      METRICS_TOKEN,
      // Heartbeats within the time a test reads a stream.
      SSE_HEARTBEAT_MS: '200',
    }),
  )
  base = await service.listening()
  served = (await (await fetch(`${base}/openapi.json`)).json()) as object
  contract = await Contract.load(served)
})
afterAll(() => service?.stop())

const exampleOf = (parameter: Operation['parameters'][number]) =>
  parameter.example ?? parameter.schema?.example

/** The session cookie the walk holds, as the service last set it. */
class CookieJar {
  cookie: string | undefined
  update(res: Response): void {
    const set = res.headers.get('set-cookie')
    if (set === null) return
    const sid = /^sid=([^;]*)/.exec(set)
    if (sid) this.cookie = sid[1] === '' || /max-age=0\b/i.test(set) ? undefined : `sid=${sid[1]}`
  }
}

/** Credentials for the operation's first requirement this test holds; none where none is needed. */
function credentials(operation: Operation, jar: CookieJar): Record<string, string> {
  if (operation.security.length === 0 || operation.security.some((alt) => Object.keys(alt).length === 0))
    return {}
  const schemes = operation.security.flatMap((alternative) => Object.keys(alternative))
  if (schemes.includes('adminToken')) return bearer(TEST_API_TOKEN)
  if (schemes.includes('metricsToken')) return bearer(METRICS_TOKEN)
  if (schemes.includes('sessionCookie') && jar.cookie) return { Cookie: jar.cookie }
  throw new Error(`${operation.name}: no credentials for ${JSON.stringify(operation.security)}`)
}

interface RequestParts {
  params?: Record<string, string>
  /** A list is a repeated parameter (`?buffer=a&buffer=b`). */
  query?: Record<string, string | string[]>
  headers?: Record<string, string>
  body?: string
  contentType?: string
}

/** The operation's request from the document's examples, with `change` applied. */
function request(operation: Operation, auth: Record<string, string>, change: RequestParts = {}): Request {
  const values = (where: string) =>
    Object.fromEntries(
      operation.parameters
        .filter((parameter) => parameter.in === where && exampleOf(parameter) !== undefined)
        .map((parameter) => {
          const example = exampleOf(parameter)
          return [parameter.name, Array.isArray(example) ? example.map(String) : String(example)]
        }),
    )
  const params: Record<string, string | string[]> = { ...values('path'), ...change.params }
  const url = new URL(
    operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name] ?? ''))),
    base,
  )
  for (const [name, value] of Object.entries({ ...values('query'), ...change.query })) {
    url.searchParams.delete(name)
    for (const each of [value].flat()) url.searchParams.append(name, each)
  }
  const body = change.body ?? (operation.body ? JSON.stringify(operation.body.example) : undefined)
  return new Request(url, {
    method: operation.method,
    headers: {
      ...(values('header') as Record<string, string>),
      ...auth,
      ...(body !== undefined && { 'Content-Type': change.contentType ?? 'application/json' }),
      ...change.headers,
    },
    ...(body !== undefined && { body }),
  })
}

/** Calls and checks: a stream's blocks are read for a while and checked one by one. */
async function call(
  operation: Operation,
  req: Request,
  jar?: CookieJar,
): Promise<{ status: number; problems: string[] }> {
  const res = await fetch(req)
  jar?.update(res)
  const isStream = res.headers.get('content-type')?.startsWith('text/event-stream') && res.status === 200
  // A stream's head only: its body is read below.
  const { problems } = await contract.problems(operation, res)
  if (isStream) {
    const stream = new SseStream(res)
    const blocks = await readFor(stream, 700)
    await stream.close()
    if (blocks.length === 0) problems.push('the stream sent nothing')
    for (const block of blocks) problems.push(...contract.eventProblems(operation, block))
  }
  return {
    status: res.status,
    problems: problems.map((problem) => `${req.method} ${req.url} ${res.status}: ${problem}`),
  }
}

async function readFor(stream: SseStream, ms: number): Promise<SseBlock[]> {
  const blocks: SseBlock[] = []
  const until = Date.now() + ms
  for (;;) {
    try {
      const block = await stream.nextBlock(Math.max(1, until - Date.now()))
      if (block === null) return blocks
      blocks.push(block)
    } catch {
      return blocks
    }
  }
}

type ParameterSchema = NonNullable<Operation['parameters'][number]['schema']>

/**
 * Values the parameter's schema refuses: out of range, not in its enum, not of its pattern; for a
 * repeated one (an array), one value more than it allows, and a bad value among good ones.
 */
function badValues(schema: ParameterSchema): (string | string[])[] {
  if (schema.type === 'integer') return ['0']
  if (schema.enum) return ['nope']
  if (schema.pattern) return ['not valid!']
  if (schema.type !== 'array') return []
  const items = (schema.items ?? {}) as ParameterSchema
  const good = (i: number) => `valid-${i}`
  return [
    ...(schema.maxItems !== undefined
      ? [Array.from({ length: schema.maxItems + 1 }, (_, i) => good(i))]
      : []),
    ...(items.pattern ? [[good(0), 'not valid!']] : []),
  ]
}

/** Writes last: every read finds what the examples created. */
const inWalkOrder = (operations: Operation[]) =>
  [...operations].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'))

describe('the OpenAPI document', () => {
  it('is the committed doc/openapi.json (after changing a route, run `npm run openapi`)', () => {
    expect(served).toEqual(committed)
  })

  it('is valid OpenAPI 3.1', async () => {
    const result = await validate(structuredClone(served) as never)
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true)
    expect((served as { openapi: string }).openapi).toBe('3.1.0')
  })

  it('documents every route the app serves, except the reference page’s own files', async () => {
    const { app } = await buildTestApp(redisUrl)
    // Endpoints: handlers that answer (`(c) => ...`), not middleware that takes `next`.
    const routes = new Set(
      app.routes
        .filter(({ method, path, handler }) => method !== 'ALL' && !path.includes('*') && handler.length < 2)
        .map(({ method, path }) => `${method} ${path}`),
    )
    const documented = contract
      .operations()
      .map(({ method, path }) => `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`)
    expect([...routes].sort()).toEqual([...documented, 'GET /docs/:file'].sort())
  })
})

describe('the running service, against its document', () => {
  it('answers every operation called with the document’s examples as documented, with a success', async () => {
    const jar = new CookieJar()
    const failures: string[] = []
    for (const operation of inWalkOrder(contract.operations())) {
      const { status, problems } = await call(operation, request(operation, credentials(operation, jar)), jar)
      failures.push(...problems)
      if (status >= 300) failures.push(`${operation.name}: the example got ${status}`)
    }
    expect(failures).toEqual([])
  })

  it('answers invalid requests (no credentials, bad path, query, header or body) with documented errors', async () => {
    const jar = new CookieJar()
    const session = await fetch(`${base}/sessions`, { method: 'POST' })
    jar.update(session)
    const failures: string[] = []
    let tried = 0
    for (const operation of inWalkOrder(contract.operations())) {
      const auth = () => credentials(operation, jar)
      const invalid: [string, Request][] = []
      if (Object.keys(auth()).length > 0) invalid.push(['no credentials', request(operation, {})])
      for (const parameter of operation.parameters) {
        const where = { path: 'params', query: 'query', header: 'headers' }[
          parameter.in
        ] as keyof RequestParts
        for (const bad of badValues(parameter.schema ?? {})) {
          invalid.push([
            `${parameter.in} ${parameter.name}=${bad}`,
            request(operation, auth(), { [where]: { [parameter.name]: bad } }),
          ])
        }
      }
      if (operation.body) {
        invalid.push([
          'a body its schema refuses',
          request(operation, auth(), { body: '{"unexpected":true}' }),
        ])
        invalid.push([
          'a body that is not JSON',
          request(operation, auth(), { body: 'a=1', contentType: 'text/plain' }),
        ])
      }
      for (const [what, req] of invalid) {
        tried++
        const { status, problems } = await call(operation, req)
        failures.push(...problems)
        if (status < 400 || status >= 500)
          failures.push(`${operation.name} with ${what}: ${status}, not a 4xx`)
      }
    }
    expect(tried).toBeGreaterThan(20)
    expect(failures).toEqual([])
  })

  /** A stream of one buffer, or of it and another; each resumes from a position the buffer never reached. */
  const streams = [
    {
      operation: 'GET /buffers/{name}/events',
      buffers: (name: string) => [name],
      path: ([name]: string[]) => `/buffers/${name}/events`,
      lastEventId: () => '99999999999999-0',
    },
    {
      operation: 'GET /events',
      buffers: (name: string) => [name, `${name}.other`],
      path: (names: string[]) => `/events?${names.map((name) => `buffer=${name}`).join('&')}`,
      lastEventId: (names: string[]) => new BufferSet(names).cursor(['99999999999999-0', '0-0']).text(),
    },
  ]

  it.each(streams)(
    'sends only documented blocks on $operation: opening, items, a reset, heartbeats, revoked',
    async (kind) => {
      const follow = contract.operations().find(({ name }) => name === kind.operation) as Operation
      const names = kind.buffers(bufferName('contract'))
      for (const name of names) {
        await fetch(`${base}/buffers/${name}/items`, {
          method: 'POST',
          headers: { ...bearer(TEST_API_TOKEN), 'Content-Type': 'application/json' },
          body: JSON.stringify({ items: [{ data: 1 }, { event: 'tick', data: { px: 2 } }] }),
        })
      }
      // A session whose grant reads the buffers: its logout revokes the stream.
      const login = await fetch(`${base}/sessions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ grant: await grantToken({ read: names }) }),
      })
      const cookie = /^sid=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] as string
      // An id from the future: the stream resets (`ahead`) and sends what the buffer holds.
      const res = await fetch(`${base}${kind.path(names)}`, {
        headers: { Cookie: cookie, 'Last-Event-ID': kind.lastEventId([...names].sort()) },
      })
      await contract.check(follow, res)
      const stream = new SseStream(res)
      const blocks = await readFor(stream, 600)
      await fetch(`${base}/sessions/current`, { method: 'DELETE', headers: { Cookie: cookie } })
      for (let block = await stream.nextBlock(); block; block = await stream.nextBlock()) blocks.push(block)

      const kinds = blocks.map((block) =>
        block.retry !== undefined
          ? 'opening'
          : block.comments.length > 0
            ? 'heartbeat'
            : (block.event ?? 'message'),
      )
      expect(new Set(kinds)).toEqual(new Set(['opening', 'reset', 'message', 'tick', 'heartbeat', 'revoked']))
      expect(blocks.flatMap((block) => contract.eventProblems(follow, block))).toEqual([])
      // Every buffer's items, all of them: the reset's and the others'.
      expect(kinds.filter((k) => k === 'message' || k === 'tick')).toHaveLength(2 * names.length)
    },
  )

  it('holds the hand-built page JSON to its schema, a reset page included', async () => {
    const page = contract.operations().find(({ name }) => name === 'GET /buffers/{name}/items') as Operation
    const name = bufferName('contract-page')
    await fetch(`${base}/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...bearer(TEST_API_TOKEN), 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: [{ data: null }, { event: 'x', data: [1, 'two', { three: 3 }] }] }),
    })
    for (const query of ['', '?limit=1', '?after=99999999999999-0']) {
      const res = await fetch(`${base}/buffers/${name}/items${query}`, { headers: bearer(TEST_API_TOKEN) })
      const { body } = await contract.check(page, res)
      expect(body, query).toHaveProperty('items')
    }
    const reset = await fetch(`${base}/buffers/${name}/items?after=99999999999999-0`, {
      headers: bearer(TEST_API_TOKEN),
    })
    expect(await reset.json()).toMatchObject({ reset: true, reason: 'ahead' })
  })

  it('fails what the document does not allow: an undocumented status, a missing header, a wrong body or block', async () => {
    const [liveness, follow, followSet] = ['GET /healthz', 'GET /buffers/{name}/events', 'GET /events'].map(
      (name) => contract.operations().find((operation) => operation.name === name) as Operation,
    )
    const health = (body: string, status = 200, headers: Record<string, string> = { 'X-Request-Id': 'r' }) =>
      new Response(body, { status, headers: { 'Content-Type': 'application/health+json', ...headers } })
    expect((await contract.problems(liveness as Operation, health('{"status":"pass"}'))).problems).toEqual([])
    for (const res of [
      health('{"status":"pass"}', 418),
      health('{"status":"pass"}', 200, {}),
      health('{"status":"maybe"}'),
      new Response('pass', { headers: { 'Content-Type': 'text/plain', 'X-Request-Id': 'r' } }),
    ]) {
      expect((await contract.problems(liveness as Operation, res)).problems).not.toEqual([])
    }
    expect(
      contract.eventProblems(follow as Operation, {
        event: 'reset',
        data: '{"reason":"nope"}',
        comments: [],
      }),
    ).not.toEqual([])
    expect(contract.eventProblems(follow as Operation, { data: '{}', comments: [] })).not.toEqual([])
    // A stream of several buffers: its data names the buffer.
    const item = { id: 'AQ', event: 'message', comments: [] }
    expect(
      contract.eventProblems(followSet as Operation, {
        ...item,
        data: '{"buffer":"a","id":"1-0","data":1}',
      }),
    ).toEqual([])
    expect(
      contract.eventProblems(followSet as Operation, { ...item, data: '{"id":"1-0","data":1}' }),
    ).not.toEqual([])
    expect(
      contract.eventProblems(followSet as Operation, {
        event: 'reset',
        data: '{"reason":"ahead","oldestId":null}',
        comments: [],
      }),
    ).not.toEqual([])
  })
})
