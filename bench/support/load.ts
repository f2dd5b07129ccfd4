import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  headers?: Record<string, string>
  connections?: number
  durationSeconds?: number
  warmupSeconds?: number
}

export interface LoadResult {
  requestsPerSecond: number
  p99Ms: number
  non2xx: number
  errors: number
}

function run(url: string, headers: Record<string, string>, connections: number, duration: number) {
  return autocannon({ url, headers, connections, duration })
}

/** Warms up, then measures requests per second on loopback for a bounded time. */
export async function measure({
  url,
  headers = {},
  connections = 50,
  durationSeconds = 10,
  warmupSeconds = 3,
}: LoadOptions): Promise<LoadResult> {
  await run(url, headers, connections, warmupSeconds)
  const result = await run(url, headers, connections, durationSeconds)
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
}
