import type { OpenAPIHono } from '@hono/zod-openapi'
import { HEADER_COMPONENTS } from './responses.js'
import { registerSecuritySchemes } from './security.js'

/** The version of the contract, not of the package: it changes when the API does. */
const API_VERSION = '1.0.0'

const OVERVIEW = `Browser sessions in Redis, data-plane buffers in Redis Streams, followed live over Server-Sent Events.

**Credentials** (doc/security.md): the admin token (\`API_TOKEN\`), the metrics token (\`METRICS_TOKEN\`) and grant tokens (JWTs from your backend) as \`Authorization: Bearer\`; browsers use the \`sid\` session cookie, which \`POST /sessions\` sets and which \`EventSource\` sends. A cookie never writes.

**Errors** have one body, \`{"error":{"code","message"}}\`; each response lists its codes. Every response carries \`X-Request-Id\`. Redis trouble is a fast 503 with \`Retry-After\`.

**Clients**: TypeScript callers can use Hono's \`hc<AppType>\` (README, "Calling the API"); any language can generate a client from this document (\`doc/openapi.json\` in the repository).`

const TAGS = [
  { name: 'Sessions', description: 'Browser sessions: the HttpOnly `sid` cookie, data, grants.' },
  { name: 'Buffers', description: 'Append, page, describe, delete, and follow live over SSE.' },
  { name: 'Session admin', description: "A user's sessions, for the deployment's backend (admin token)." },
  { name: 'Health', description: 'Liveness and readiness probes.' },
  { name: 'Operations', description: 'Metrics for Prometheus.' },
  { name: 'Reference', description: 'This document, and a page to read it and try calls.' },
]

/**
 * The OpenAPI 3.1 document of `app`: every route it mounted with @hono/zod-openapi, from the same
 * schemas that validate requests, with the security schemes of doc/security.md. Generated on demand
 * (`GET /openapi.json` builds it once); `npm run openapi` writes it to doc/openapi.json.
 */
export function describeApi(app: Pick<OpenAPIHono, 'openAPIRegistry' | 'getOpenAPI31Document'>): object {
  registerSecuritySchemes(app.openAPIRegistry)
  for (const [name, header] of Object.entries(HEADER_COMPONENTS)) {
    app.openAPIRegistry.registerComponent('headers', name, header)
  }
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'hono-redis-service', version: API_VERSION, description: OVERVIEW },
    tags: TAGS,
  })
}
