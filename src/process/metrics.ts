import { collectDefaultMetrics, type Metric, Registry } from 'prom-client'
import { BucketHistogram } from '../lib/histogram.js'

/**
 * Prometheus metrics for one app: its own registry (no global state), Node's process metrics, one
 * histogram of request durations by method, matched route and status, and the service's own `hrs_*`
 * metrics (the README's "Metrics" lists them all). Every number is kept by the code that counts it, as
 * a plain field of the counters below or as state the app holds anyway, and the registry reads it when
 * it is scraped: prom-client's own metric classes validate and hash a label set on every observation,
 * a cost hot paths notice (doc/architecture.md, "Hot path"). No label takes an unbounded value.
 *
 * The counters are handed to whoever counts (Subscriptions, SessionService, the buffer routes, ...);
 * modules that may not import this one declare the few fields they touch, which these classes fill.
 */
export interface ServiceMetrics {
  readonly registry: Registry
  observeRequest(method: string, route: string, status: number, seconds: number): void
  readonly sse: SseCounters
  readonly buffers: BufferCounters
  readonly sessions: SessionCounters
  /** An authentication failure (a 401), by why; a reason not in AUTH_FAILURE_REASONS counts as `other`. */
  authFailure(reason: string | undefined): void
  /** Registers what is read only when scraped: the app's own state and its Redis connection's counters. */
  watch(state: WatchedState): void
}

/**
 * How a stream request that reached the subscriptions ended; requests refused before them (credentials,
 * validation) are not counted here.
 */
export const STREAM_OUTCOMES = ['opened', 'retry_later', 'limited', 'unavailable', 'failed'] as const
export type StreamOutcome = (typeof STREAM_OUTCOMES)[number]

/** Seconds from an item's Redis id time to its fan-out: loopback delivery takes about a millisecond. */
export const DELIVERY_LAG_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const

/** SSE delivery (src/buffers/live/): counted by Subscriptions, its Follower, LiveHub and Heartbeats. */
export class SseCounters {
  /**
   * Stream requests by outcome: `opened` (a 200 event stream), `retry_later` (a 200 that ends at once
   * with `retry:`: the app is closing, or an EventSource met Redis trouble), `limited` (429, no stream
   * slot), `unavailable` (503, Redis trouble), `failed` (any other error: a 500).
   */
  readonly opened: Record<StreamOutcome, number> = {
    opened: 0,
    retry_later: 0,
    limited: 0,
    unavailable: 0,
    failed: 0,
  }
  /** Item events written to a stream's socket or queued behind one that pushes back: pages and live items. */
  eventsSent = 0
  /** Reset events sent, by the reset rule's reason. */
  readonly resets = { trimmed: 0, deleted: 0, ahead: 0 }
  /** Streams cut because their client fell too far behind (SSE_QUEUE_MAX_EVENTS / _BYTES). */
  slowClientDisconnects = 0
  /** Heartbeat comments sent. */
  heartbeats = 0
  /** Pages read after a stream opened, to catch up (a gap, a full first page); not the first page. */
  catchUpPages = 0
  /** Per live item, once: from its Redis id time to the end of its fan-out in this process. */
  readonly deliveryLag = new BucketHistogram(DELIVERY_LAG_BUCKETS)
}

/** Appends (`POST /buffers/:name/items`): counted by the buffer routes. */
export class BufferCounters {
  itemsAppended = 0
  /** Appends stored: each request is one batch of one or more items. */
  appendBatches = 0
  /** Refused or failed appends by the error body's `code`: codes are the service's own, a fixed set. */
  readonly appendFailures = new Map<string, number>()

  appendFailed(code: string): void {
    this.appendFailures.set(code, (this.appendFailures.get(code) ?? 0) + 1)
  }
}

/** Sessions: counted by SessionService (src/sessions/service.ts, which declares what it counts). */
export class SessionCounters {
  created = 0
  rotated = 0
  /** `logout`; `replaced`: the session a cookie named when POST /sessions made a new one; `revoked`: by the admin API. */
  readonly destroyed = { logout: 0, replaced: 0, revoked: 0 }
}

/**
 * Why a request was not authenticated: no credential at all (`missing`), a bearer token that is neither
 * an API nor a metrics token (`invalid_token`), a grant token refused (`invalid_grant`), a session cookie
 * whose shape or signature is wrong (`invalid_cookie`), a valid cookie whose session has gone (expired or
 * ended: `unknown_session`), a session created without a grant where anonymous ones are off (`grant_required`).
 */
export const AUTH_FAILURE_REASONS = [
  'missing',
  'invalid_token',
  'invalid_grant',
  'invalid_cookie',
  'unknown_session',
  'grant_required',
  'other',
] as const
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number]

/** The Redis connection's counters (src/redis/stats.ts), as read here. */
export interface RedisCounters {
  commandsUp(): boolean
  readonly errors: Readonly<Record<'timeout' | 'connection' | 'reply', number>>
  readonly commands: Readonly<Record<string, { readonly durations: BucketHistogram }>>
  readonly reconnects: Readonly<Record<'commands' | 'live_reader', number>>
  readonly liveReads: Readonly<Record<'items' | 'empty' | 'error', number>>
}

/** State the app holds anyway, read at scrape time. */
export interface WatchedState {
  /** SSE streams open right now. */
  openStreams(): number
  /**
   * Whether the replica would pass readiness now, judged by its state without a round trip: not
   * shutting down, the command connection up, and every readiness check (the live reader) passing.
   */
  ready(): boolean
  /** Whether the live reader's connection is up; undefined while there is none (no stream yet, or closed). */
  liveReaderUp(): boolean | undefined
  redis: RedisCounters
}

type MetricType = 'counter' | 'gauge' | 'histogram'

interface Sample {
  /** For a histogram's `_bucket`, `_sum` and `_count` lines. */
  metricName?: string
  labels: Readonly<Record<string, string>>
  value: number
}

/**
 * A metric whose samples are read at scrape time. prom-client's registry needs only name, help, type,
 * aggregator and get() of a metric; its type names its own classes, hence the cast in `register`.
 */
class ScrapedMetric {
  readonly aggregator = 'sum'

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly samples: () => Sample[],
  ) {}

  get() {
    const { name, help, type, aggregator } = this
    return { name, help, type, aggregator, values: this.samples() }
  }
}

/** A histogram's lines: cumulative `_bucket` lines with `le`, then `_sum` and `_count`. */
function histogramSamples(
  name: string,
  labels: Readonly<Record<string, string>>,
  { bounds, counts, sum, count }: BucketHistogram,
): Sample[] {
  let cumulative = 0
  const samples: Sample[] = counts.map((observed, index) => {
    cumulative += observed
    const le = index < bounds.length ? String(bounds[index]) : '+Inf'
    return { metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative }
  })
  samples.push({ metricName: `${name}_sum`, labels, value: sum })
  samples.push({ metricName: `${name}_count`, labels, value: count })
  return samples
}

/** One sample per value of `label`, zeros included, so that rates start from the first scrape. */
const byLabel = (label: string, counts: Readonly<Record<string, number>>): Sample[] =>
  Object.entries(counts).map(([value, count]) => ({ labels: { [label]: value }, value: count }))

const single = (value: number): Sample[] => [{ labels: {}, value }]

/** Enough for a fast API and for the seconds-long requests that hit REDIS_COMMAND_TIMEOUT_MS. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Series {
  labels: { method: string; route: string; status: string }
  histogram: BucketHistogram
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
      series = { labels, histogram: new BucketHistogram(DURATION_BUCKETS) }
      this.#series.set(key, series)
    }
    series.histogram.observe(seconds)
  }

  /** What the registry renders. */
  get() {
    const values = [...this.#series.values()].flatMap(({ labels, histogram }) =>
      histogramSamples(this.name, labels, histogram),
    )
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

/**
 * prom-client's default metrics include three gauges named `*_total`, which `promtool check metrics`
 * rejects (a `_total` suffix means a counter). Each equals the sum of its per-type gauge
 * (`sum(nodejs_active_handles)`), so they are left out.
 */
const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const

export function createMetrics(): ServiceMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name)
  const durations = new RequestDurations()
  const register = (metric: RequestDurations | ScrapedMetric) =>
    registry.registerMetric(metric as unknown as Metric)
  const metric = (name: string, help: string, type: MetricType, samples: () => Sample[]) =>
    register(new ScrapedMetric(name, help, type, samples))
  register(durations)

  const sse = new SseCounters()
  metric('hrs_sse_streams_opened_total', 'SSE stream requests by outcome', 'counter', () =>
    byLabel('outcome', sse.opened),
  )
  metric('hrs_sse_events_sent_total', 'Item events written or queued to SSE streams', 'counter', () =>
    single(sse.eventsSent),
  )
  metric('hrs_sse_resets_total', 'Reset events sent to SSE streams, by reason', 'counter', () =>
    byLabel('reason', sse.resets),
  )
  metric(
    'hrs_sse_slow_client_disconnects_total',
    'SSE streams cut because their client fell too far behind',
    'counter',
    () => single(sse.slowClientDisconnects),
  )
  metric('hrs_sse_heartbeats_total', 'Heartbeat comments sent to SSE streams', 'counter', () =>
    single(sse.heartbeats),
  )
  metric(
    'hrs_sse_catch_up_pages_total',
    'Pages read to catch SSE streams up after they opened',
    'counter',
    () => single(sse.catchUpPages),
  )
  metric(
    'hrs_sse_delivery_lag_seconds',
    "Live items, once each: from the item's Redis id time to the end of its fan-out to this replica's streams",
    'histogram',
    () => histogramSamples('hrs_sse_delivery_lag_seconds', {}, sse.deliveryLag),
  )

  const buffers = new BufferCounters()
  metric('hrs_buffer_items_appended_total', 'Items stored by appends', 'counter', () =>
    single(buffers.itemsAppended),
  )
  metric(
    'hrs_buffer_append_batches_total',
    'Appends stored (each a batch of one or more items)',
    'counter',
    () => single(buffers.appendBatches),
  )
  metric('hrs_buffer_append_failures_total', 'Appends refused or failed, by error code', 'counter', () =>
    [...buffers.appendFailures].map(([code, count]) => ({ labels: { code }, value: count })),
  )

  const sessions = new SessionCounters()
  metric('hrs_sessions_created_total', 'Sessions created', 'counter', () => single(sessions.created))
  metric('hrs_sessions_rotated_total', 'Sessions moved to a fresh id', 'counter', () =>
    single(sessions.rotated),
  )
  metric('hrs_sessions_destroyed_total', 'Sessions ended by this replica, by reason', 'counter', () =>
    byLabel('reason', sessions.destroyed),
  )
  const authFailures = Object.fromEntries(AUTH_FAILURE_REASONS.map((reason) => [reason, 0])) as Record<
    AuthFailureReason,
    number
  >
  metric('hrs_auth_failures_total', 'Requests refused as unauthenticated (401), by reason', 'counter', () =>
    byLabel('reason', authFailures),
  )

  return {
    registry,
    observeRequest: (method, route, status, seconds) => durations.observe(method, route, status, seconds),
    sse,
    buffers,
    sessions,
    authFailure: (reason) => {
      const known = reason !== undefined && Object.hasOwn(authFailures, reason)
      authFailures[known ? (reason as AuthFailureReason) : 'other']++
    },
    watch: (state) => watch(metric, state),
  }
}

/** The metrics read from the app's state and its Redis connection. */
function watch(
  metric: (name: string, help: string, type: MetricType, samples: () => Sample[]) => void,
  { openStreams, ready, liveReaderUp, redis }: WatchedState,
): void {
  metric('hrs_sse_streams_open', 'SSE streams open', 'gauge', () => single(openStreams()))
  metric(
    'hrs_ready',
    'Whether this replica would pass readiness now (1), judged by its state: not shutting down, Redis up, the live reader healthy',
    'gauge',
    () => single(ready() ? 1 : 0),
  )
  metric('hrs_redis_up', 'Whether each Redis connection is up (1) or not (0)', 'gauge', () => {
    const samples = [{ labels: { role: 'commands' }, value: redis.commandsUp() ? 1 : 0 }]
    const reader = liveReaderUp()
    if (reader !== undefined) samples.push({ labels: { role: 'live_reader' }, value: reader ? 1 : 0 })
    return samples
  })
  metric(
    'hrs_redis_reconnects_total',
    'Redis connections lost and established again, by role',
    'counter',
    () => byLabel('role', redis.reconnects),
  )
  metric('hrs_redis_command_errors_total', 'Failed Redis commands by class', 'counter', () =>
    byLabel('class', redis.errors),
  )
  metric(
    'hrs_redis_command_duration_seconds',
    'Redis commands (each reply, or its timeout) by family: what the first key belongs to, or ping',
    'histogram',
    () =>
      Object.entries(redis.commands).flatMap(([family, { durations }]) =>
        histogramSamples('hrs_redis_command_duration_seconds', { family }, durations),
      ),
  )
  metric(
    'hrs_redis_live_reads_total',
    "The live reader's blocked reads (XREAD BLOCK), by what each came back with",
    'counter',
    () => byLabel('outcome', redis.liveReads),
  )
}
