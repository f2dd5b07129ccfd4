import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics for one app: its own registry (no global state), Node's process metrics, and one
 * histogram of request durations by method, matched route and status.
 */
export interface ServiceMetrics {
  readonly registry: Registry
  observeRequest(method: string, route: string, status: number, seconds: number): void
}

type Observer = ReturnType<Histogram<'method' | 'route' | 'status'>['labels']>

/** Enough for a fast API and for the seconds-long requests that hit REDIS_COMMAND_TIMEOUT_MS. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export function createMetrics(): ServiceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, matched route and status, and how long they took to answer',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  // prom-client hashes the label set on every observe; the set of (method, route, status) is small
  // and fixed by the routes, so each one's child is looked up once by a plain string key.
  const observers = new Map<string, Observer>()
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const key = `${method} ${status} ${route}`
      let observer = observers.get(key)
      if (!observer) {
        observer = durations.labels(method, route, String(status))
        observers.set(key, observer)
      }
      observer.observe(seconds)
    },
  }
}
