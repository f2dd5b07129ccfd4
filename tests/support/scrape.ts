import type { ServiceApp } from '../../src/app.js'
import { TEST_API_TOKEN } from './env.js'

/** `GET /metrics` of `app` with `token` (the API token by default): the Prometheus text. */
export async function scrape(app: ServiceApp, token = TEST_API_TOKEN): Promise<string> {
  const res = await app.request('/metrics', { headers: { Authorization: `Bearer ${token}` } })
  if (res.status !== 200) throw new Error(`/metrics: ${res.status} ${await res.text()}`)
  return res.text()
}

/**
 * The value of the sample `name` whose labels include `labels` (all of them, in any order) in a scrape;
 * undefined when there is none.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    )
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3])
  }
  return undefined
}

/** The metric families a scrape declares (`# TYPE name type`), by name. */
export function families(text: string): Map<string, string> {
  return new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name as string, type as string]),
  )
}
