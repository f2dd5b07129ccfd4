import type { OpenAPIHono } from '@hono/zod-openapi'

/**
 * The credentials of doc/security.md as OpenAPI security schemes, and which a route takes: an
 * operation lists the alternatives, any one of which suffices (tests/http/access-decisions.test.ts
 * checks the service against the same rules).
 */

const SCHEMES = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token (API_TOKEN): every buffer operation, the session admin API and /metrics.',
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The metrics token (METRICS_TOKEN): GET /metrics and nothing else.',
  },
  grantToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "A grant token: a JWT from the deployment's backend whose `buffers` claim names what it may read " +
      'and write, until its `exp` (doc/security.md, "Grant tokens").',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'sid',
    description:
      'The session cookie, set by POST /sessions. A session bound to a user by a grant reads what its grant ' +
      'allows; a cookie never writes.',
  },
} as const

type Scheme = keyof typeof SCHEMES
const anyOf = (...schemes: Scheme[]) => schemes.map((scheme) => ({ [scheme]: [] }))

/** Which credentials each kind of route takes. */
export const SECURITY = {
  public: [],
  metrics: anyOf('adminToken', 'metricsToken'),
  admin: anyOf('adminToken'),
  bufferRead: anyOf('adminToken', 'grantToken', 'sessionCookie'),
  bufferWrite: anyOf('adminToken', 'grantToken'),
  session: anyOf('sessionCookie'),
  /** Works without; a session cookie sent along names the session the request replaces. */
  sessionOptional: [{}, ...anyOf('sessionCookie')],
}

export function registerSecuritySchemes(registry: OpenAPIHono['openAPIRegistry']): void {
  for (const [name, scheme] of Object.entries(SCHEMES))
    registry.registerComponent('securitySchemes', name, scheme)
}
