import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { RedisInstrumentation } from '@opentelemetry/instrumentation-redis'
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import { Deadline } from '../lib/deadline.js'
import type { Logger } from './logger.js'

/**
 * OpenTelemetry tracing: the SDK, the OTLP exporter and the Redis instrumentation. main.ts loads this
 * module only when tracing is on (`Env.tracing`), and before anything loads `redis`: the instrumentation
 * patches node-redis as it is loaded, and cannot patch it afterwards. The request spans are the
 * middleware in `http/middleware/request-spans.ts`; this module gives them a provider to report to.
 *
 * The exporter, the sampler and the batching read the standard OTEL_* variables themselves
 * (doc/ops-deploy.md, "Tracing").
 */

const SERVICE_NAME = 'hono-redis-service'

/**
 * What a Redis span says its command was: the command's name, and for a script run by SHA the SHA, which
 * names the script. Never a key or a value: keys hold session ids and buffer names, values hold item
 * data and session data, and the handshake's AUTH and HELLO carry the password.
 */
export function redisCommandText(name: string, args: ReadonlyArray<string | Buffer>): string {
  const [sha] = args
  return (name === 'EVALSHA' || name === 'EVALSHA_RO') && typeof sha === 'string' ? `${name} ${sha}` : name
}

export interface TracingOptions {
  /** Where finished spans go. Default: batched to OTLP over HTTP (protobuf), as OTEL_* configure it. */
  spanProcessor?: SpanProcessor
}

export interface Tracing {
  /** From now on, problems the SDK reports (an export that failed, spans dropped) go to this log. */
  reportTo(logger: Logger): void
  /**
   * Exports what is still queued and stops tracing. Rejects when that takes longer than `timeoutMs`
   * (a collector that does not answer): the spans still queued are lost, the shutdown goes on.
   */
  shutdown(timeoutMs: number): Promise<void>
}

/** Registers the tracer provider, its context manager and propagator, and the Redis instrumentation. */
export function startTracing({
  spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter()),
}: TracingOptions = {}): Tracing {
  const provider = new NodeTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override the name.
    resource: defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: SERVICE_NAME }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [spanProcessor],
  })
  // The AsyncLocalStorage context manager (a request's span is the parent of its Redis commands) and
  // W3C trace context (a caller's `traceparent` is continued).
  provider.register()
  const unregisterInstrumentations = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new RedisInstrumentation({
        // Only commands within a span (a request's, or a connection's opening): the live reader's blocking
        // reads and the stream slots' renewals would otherwise be a trace of their own every few seconds.
        requireParentSpan: true,
        dbStatementSerializer: redisCommandText,
      }),
    ],
  })
  return {
    reportTo(logger) {
      // A collector that is down fails every export the same way: said once, until something else happens.
      let last = ''
      const report = (message: string) => {
        if (message === last) return
        last = message
        logger.warn({ err: message }, 'tracing: the OpenTelemetry SDK reports a problem')
      }
      const ignore = () => {}
      diag.setLogger(
        { error: report, warn: report, info: ignore, debug: ignore, verbose: ignore },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      )
    },
    async shutdown(timeoutMs) {
      unregisterInstrumentations()
      try {
        await new Deadline(Math.max(timeoutMs, 0)).within(() => provider.shutdown())
      } finally {
        trace.disable()
        context.disable()
        propagation.disable()
        diag.disable()
      }
    },
  }
}
