import autocannon from 'autocannon'

export interface LoadTarget {
  url: string
  headers?: Record<string, string>
}

export interface Burst {
  requests: number
  seconds: number
  p99Ms: number
  failed: number
}

/** Bounded load on loopback: `connections` keep-alive connections for `seconds`. */
export async function burst(
  { url, headers = {} }: LoadTarget,
  seconds: number,
  connections = 50,
): Promise<Burst> {
  const result = await autocannon({ url, headers, connections, duration: seconds })
  return {
    requests: result.requests.total,
    seconds: result.duration,
    p99Ms: result.latency.p99,
    failed: result.non2xx + result.errors,
  }
}

/** Totals of the bursts one target received. */
export interface Tally {
  requestsPerSecond: number
  /** Median of the bursts' p99 latencies. */
  p99Ms: number
  failed: number
}

export function tally(bursts: readonly Burst[]): Tally {
  const seconds = bursts.reduce((sum, b) => sum + b.seconds, 0)
  const p99s = bursts.map((b) => b.p99Ms).sort((a, b) => a - b)
  return {
    requestsPerSecond: bursts.reduce((sum, b) => sum + b.requests, 0) / seconds,
    p99Ms: p99s[Math.floor(p99s.length / 2)] ?? 0,
    failed: bursts.reduce((sum, b) => sum + b.failed, 0),
  }
}
