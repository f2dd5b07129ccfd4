import { httpInstrumentationMiddleware } from '@hono/otel'

/**
 * A server span for each request, named by method and route (`POST /buffers/:name/items`): the parent
 * of every Redis command the request causes. A caller's W3C `traceparent` is continued.
 *
 * createApp mounts it first, and only when main.ts passes it, which it does only when tracing is on:
 * importing this module loads OpenTelemetry. No header is recorded (Cookie and Authorization never
 * reach a span); the attributes are the method, the route, the URL and the status.
 */
export const requestSpans = () =>
  httpInstrumentationMiddleware({
    captureRequestHeaders: [],
    captureResponseHeaders: [],
    // An up-down counter on the global meter provider, which is a no-op: this service's metrics are
    // Prometheus's (src/process/metrics.ts).
    captureActiveRequests: false,
  })
