import { collectDefaultMetrics, type Metric, Registry } from 'prom-client'

/**
 * Prometheus metrics for one app: its own registry (no global state), Node's process metrics, and one
 * histogram of request durations by method, matched route and status.
 */
export interface ServiceMetrics {
  readonly registry: Registry
  observeRequest(method: string, route: string, status: number, seconds: number): void
}

/** Enough for a fast API and for the seconds-long requests that hit REDIS_COMMAND_TIMEOUT_MS. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Series {
  labels: { method: string; route: string; status: string }
  /** Observations per bucket, not cumulative; the last slot is +Inf. */
  buckets: number[]
  sum: number
  count: number
}

/**
 * `http_request_duration_seconds`, kept by us and read by prom-client's registry at scrape time.
 * prom-client's own Histogram validates and hashes the label set on every observation, a cost the hot
 * path notices (doc/architecture.md, "Hot path"); here an observation is one Map lookup by
 * a string key and three additions.
 */
class RequestDurations {
  readonly name = 'http_request_duration_seconds'
  readonly help = 'HTTP requests by method, matched route and status, and how long they took to answer'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #series = new Map<string, Series>()

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`
    let series = this.#series.get(key)
    if (!series) {
      const labels = { method, route, status: String(status) }
      series = { labels, buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }
      this.#series.set(key, series)
    }
    let bucket = 0
    while (bucket < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[bucket] as number)) bucket++
    series.buckets[bucket] = (series.buckets[bucket] as number) + 1
    series.sum += seconds
    series.count++
  }

  /** What the registry renders: cumulative `_bucket` lines with `le`, then `_sum` and `_count`. */
  get() {
    const values = [...this.#series.values()].flatMap(({ labels, buckets, sum, count }) => {
      let cumulative = 0
      const bucketLines = buckets.map((observed, index) => {
        cumulative += observed
        const le = index < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[index]) : '+Inf'
        return { metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative }
      })
      return [
        ...bucketLines,
        { metricName: `${this.name}_sum`, labels, value: sum },
        { metricName: `${this.name}_count`, labels, value: count },
      ]
    })
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

export function createMetrics(): ServiceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const durations = new RequestDurations()
  // The registry needs only name, help, type, aggregator and get() of a metric; prom-client's type
  // names its own classes, hence the cast.
  registry.registerMetric(durations as unknown as Metric)
  return {
    registry,
    observeRequest: (method, route, status, seconds) => durations.observe(method, route, status, seconds),
  }
}
