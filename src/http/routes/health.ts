import { createRoute, z } from '@hono/zod-openapi'
import type { Deadline } from '../../lib/deadline.js'
import type { Lifecycle } from '../../process/lifecycle.js'
import type { Redis } from '../../redis/client.js'
import { RedisTimeoutError, replyDeadline } from '../../redis/failures.js'
import type { ServiceVariables } from '../middleware/services.js'
import { errorResponses, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

/**
 * Liveness and readiness, in the IETF health-check draft format (`application/health+json`).
 *
 * - `/healthz` never touches Redis: a Redis outage must not make an orchestrator restart healthy pods.
 * - `/readyz` PINGs Redis within `readyTimeoutMs`, asks its replication role in the same round trip (a
 *   read-only Redis replica, such as the old primary after a failover, fails every write and even a
 *   session read's GETEX), and consults every extra check (for example the live SSE reader), so a load
 *   balancer stops sending traffic to a replica that cannot serve it.
 */
export interface HealthOptions {
  lifecycle: Lifecycle
  readyTimeoutMs: number
  /** Named internal checks: each returns why it fails, or undefined when it passes. */
  checks?: Readonly<Record<string, () => string | undefined>>
}

const HEALTH_HEADERS = { 'Content-Type': 'application/health+json', 'Cache-Control': 'no-store' }

const status = z.enum(['pass', 'fail'])
const healthCheck = z.object({
  status,
  output: z.string().optional().openapi({ description: 'Why it fails.' }),
  observedValue: z.union([z.number(), z.string()]).optional(),
  observedUnit: z.string().optional(),
  time: z.iso.datetime(),
})
const health = z
  .object({
    status,
    output: z
      .string()
      .optional()
      .openapi({ description: 'Why it fails: every failing check, joined by `; `.' }),
    checks: z.record(z.string(), z.array(healthCheck)).optional(),
  })
  .openapi('Health', { description: 'The IETF health-check draft format.' })
type Health = z.infer<typeof health>

const healthContent = { 'application/health+json': { schema: health } }
const probe = { tags: ['Health'], security: SECURITY.public, method: 'get' as const }

const liveness = createRoute({
  ...probe,
  path: '/healthz',
  summary: 'Liveness',
  description: 'Never touches Redis, and keeps passing during shutdown.',
  responses: {
    200: success('Alive.', healthContent),
    ...errorResponses([]),
  },
})

const readiness = createRoute({
  ...probe,
  path: '/readyz',
  summary: 'Readiness',
  description:
    'PINGs Redis within READY_TIMEOUT_MS and asks its role in the same round trip; fails while Redis is ' +
    'unreachable, too slow or read-only, while the live SSE reader is down with streams open, or during shutdown.',
  responses: {
    200: success('Ready: send traffic here.', healthContent),
    503: success('Not ready; `output` says why.', healthContent),
    ...errorResponses([]),
  },
})

type Outcome = { ok: true; ms: number; role: string | undefined } | { ok: false; reason: string }

/**
 * PING and the role, sent in the same tick: node-redis writes them together, so readiness still costs
 * one round trip, and one deadline bounds both.
 */
async function probeWithin(redis: Redis, deadline: Deadline): Promise<Outcome> {
  const started = performance.now()
  try {
    const [, role] = await deadline.within(() => Promise.all([redis.ping(), redis.role()]))
    return { ok: true, ms: Math.round((performance.now() - started) * 100) / 100, role }
  } catch (error) {
    // Whichever deadline came first, READY_TIMEOUT_MS here or REDIS_COMMAND_TIMEOUT_MS in the facade.
    if (error instanceof RedisTimeoutError) {
      return { ok: false, reason: `redis too slow: no PONG within ${error.timeoutMs} ms` }
    }
    return { ok: false, reason: 'redis unreachable' }
  }
}

/** Why a Redis with this role cannot serve the app, or undefined; a role Redis does not tell passes. */
function roleFailure(role: string | undefined): string | undefined {
  if (role === undefined || role === 'master') return undefined
  return role === 'replica' ? 'redis is read-only (a replica)' : `redis cannot take writes (role: ${role})`
}

export function healthRoutes({ lifecycle, readyTimeoutMs, checks = {} }: HealthOptions) {
  const ready = replyDeadline(readyTimeoutMs)
  return apiRoutes<{ Variables: ServiceVariables }>()
    .openapi(liveness, (c) => c.json({ status: 'pass' } satisfies Health, 200, HEALTH_HEADERS))
    .openapi(readiness, async (c) => {
      const time = new Date().toISOString()
      if (lifecycle.shuttingDown) {
        return c.json({ status: 'fail', output: 'shutting down' } satisfies Health, 503, HEALTH_HEADERS)
      }
      const redis = await probeWithin(c.get('redis'), ready)
      const readOnly = redis.ok ? roleFailure(redis.role) : undefined
      const failures = redis.ok ? [] : [redis.reason]
      if (readOnly) failures.push(readOnly)
      const body: Pick<Health, 'checks'> = {
        checks: {
          'redis:responseTime': [
            redis.ok
              ? { status: 'pass', observedValue: redis.ms, observedUnit: 'ms', time }
              : { status: 'fail', output: redis.reason, time },
          ],
          // Only when Redis answered: unreachable, its role is unknown and the check above says why.
          ...(redis.ok && {
            'redis:role': [
              {
                status: readOnly ? 'fail' : 'pass',
                ...(redis.role !== undefined && { observedValue: redis.role }),
                ...(readOnly && { output: readOnly }),
                time,
              },
            ],
          }),
          ...Object.fromEntries(
            Object.entries(checks).map(([name, check]) => {
              const reason = check()
              if (reason) failures.push(reason)
              return [name, [reason ? { status: 'fail', output: reason, time } : { status: 'pass', time }]]
            }),
          ),
        },
      }
      if (failures.length === 0)
        return c.json({ status: 'pass', ...body } satisfies Health, 200, HEALTH_HEADERS)
      const payload: Health = { status: 'fail', output: failures.join('; '), ...body }
      return c.json(payload, 503, HEALTH_HEADERS)
    })
}
