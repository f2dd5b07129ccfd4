import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { ServiceApp } from '../../src/app.js'
import { nodeServerOptions } from '../../src/http/server.js'
import { keys } from '../../src/redis/keys.js'
import { envOf } from './app.js'
import { TEST_API_TOKEN, testEnv } from './env.js'
import { keySlot } from './key-slot.js'
import { masterOfSlot } from './redis-cluster.js'
import { type SseBlock, SseStream } from './sse-client.js'

/** A buffer name no other test (file) uses. */
export const bufferName = (label = 'buf') => `${label}-${randomBytes(6).toString('hex')}`

/**
 * Fresh buffer names, one per label, the i-th served by master i % 3 of a three-master test cluster
 * (TestRedisCluster): a suite run on the cluster (tests/support/topology.ts) spreads such buffers over
 * every shard. On a standalone Redis they are fresh names like any other.
 */
export function bufferNamesAcrossShards(labels: readonly string[]): string[] {
  return labels.map((label, index) => {
    for (;;) {
      const name = bufferName(label)
      if (masterOfSlot(keySlot(keys.bufferItems(name))) === index % 3) return name
    }
  })
}

export const tokenHeaders = { Authorization: `Bearer ${TEST_API_TOKEN}` }

/** Appends items `{data: n}` for each n; resolves with their ids. */
export async function appendNumbers(app: ServiceApp, name: string, numbers: number[]): Promise<string[]> {
  const res = await app.request(`/buffers/${name}/items`, {
    method: 'POST',
    headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
    body: JSON.stringify({ items: numbers.map((n) => ({ data: n })) }),
  })
  if (res.status !== 201) throw new Error(`append: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { ids: string[] }).ids
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** The parsed `data` of each event (the numbers appendNumbers appended). */
export const datas = (events: { data?: string }[]) =>
  events.map((event) => JSON.parse(event.data as string) as number)

/** GET /buffers/:name's `subscribers`: SSE clients of `name` on this app. */
export async function subscriberCount(app: ServiceApp, name: string): Promise<number> {
  const res = await app.request(`/buffers/${name}`, { headers: tokenHeaders })
  return ((await res.json()) as { subscribers: number }).subscribers
}

const served = new WeakMap<ServiceApp, Promise<string>>()

/**
 * The base URL of `app` served over real HTTP by @hono/node-server on a free loopback port, as main.ts
 * serves it (the same server options, from the env the app was built with): SSE then takes the
 * production path (frames written straight to the Node response). The server closes with the app's
 * lifecycle.
 */
export function servedUrl(app: ServiceApp): Promise<string> {
  let url = served.get(app)
  if (!url) {
    url = new Promise((resolve) => {
      const server = serve(
        {
          fetch: app.fetch,
          port: 0,
          hostname: '127.0.0.1',
          // An app built without buildTestApp gets the defaults.
          ...nodeServerOptions(envOf(app) ?? testEnv('redis://127.0.0.1:6379')),
        },
        (info: AddressInfo) => resolve(`http://127.0.0.1:${info.port}`),
      )
      // Streams end on the same close (within their 2 s grace); whatever is left is cut after it.
      app.lifecycle.onClose(() => {
        server.close()
        setTimeout(() => (server as Server).closeAllConnections(), 2500).unref()
      })
    })
    served.set(app, url)
  }
  return url
}

/**
 * Opens `GET /buffers/:name/events` with the API token; `query` and `headers` as given. Over real HTTP
 * (the production path) unless `inProcess`, which uses `app.request()`: there a client that does not
 * read holds the stream back at once, where over TCP the kernel's socket buffers (megabytes on
 * loopback) would first take everything a small test sends.
 */
export function openEvents(app: ServiceApp, name: string, options: OpenOptions = {}): Promise<SseStream> {
  return openStream(app, `/buffers/${name}/events${options.query ?? ''}`, options)
}

/**
 * Opens `GET /events?buffer=...` for every name in `names`, in that order, as {@link openEvents} does;
 * `query` continues the query string (`&from=earliest`).
 */
export function openSetEvents(app: ServiceApp, names: readonly string[], options: OpenOptions = {}) {
  return openStream(app, `${setEventsPath(names)}${options.query ?? ''}`, options)
}

/** `/events?buffer=a&buffer=b...`. */
export const setEventsPath = (names: readonly string[]) =>
  `/events?${names.map((name) => `buffer=${encodeURIComponent(name)}`).join('&')}`

export interface OpenOptions {
  query?: string
  headers?: Record<string, string>
  inProcess?: boolean
}

async function openStream(
  app: ServiceApp,
  path: string,
  { headers = {}, inProcess = false }: OpenOptions,
): Promise<SseStream> {
  const init = { headers: { ...tokenHeaders, ...headers } }
  const res = inProcess ? await app.request(path, init) : await fetch(`${await servedUrl(app)}${path}`, init)
  if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`)
  return new SseStream(res)
}

/** An item of a stream of several buffers: its envelope, and its event name. */
export interface SetItem {
  buffer: string
  id: string
  event: string
  data: unknown
}

/** The items of a stream of several buffers' events (resets left out). */
export const setItems = (events: readonly SseBlock[]): SetItem[] =>
  events
    .filter((event) => event.event !== 'reset')
    .map((event) => {
      const { buffer, id, data } = JSON.parse(event.data as string) as Omit<SetItem, 'event'>
      return { buffer, id, data, event: event.event ?? 'message' }
    })

/** The data (numbers, from appendNumbers) of `buffer`'s items among `items`, in order. */
export const numbersOf = (items: readonly SetItem[], buffer: string) =>
  items.filter((item) => item.buffer === buffer).map((item) => item.data as number)
