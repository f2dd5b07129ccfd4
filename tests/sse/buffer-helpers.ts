import { randomBytes } from 'node:crypto'
import type { ServiceApp } from '../../src/app.js'
import { TEST_API_TOKEN } from '../support/env.js'
import { SseStream } from './sse-client.js'

/** A buffer name no other test (file) uses. */
export const bufferName = (label = 'buf') => `${label}-${randomBytes(6).toString('hex')}`

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

/** Opens `GET /buffers/:name/events` with the API token; `query` and `headers` as given. */
export async function openEvents(
  app: ServiceApp,
  name: string,
  { query = '', headers = {} }: { query?: string; headers?: Record<string, string> } = {},
): Promise<SseStream> {
  const res = await app.request(`/buffers/${name}/events${query}`, {
    headers: { ...tokenHeaders, ...headers },
  })
  if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`)
  return new SseStream(res)
}
