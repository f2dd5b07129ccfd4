import { randomBytes } from 'node:crypto'
import { createRoute, z } from '@hono/zod-openapi'
import { SignJWT } from 'jose'
import { json, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'

export interface DevGrantOptions {
  /** The first GRANT_SECRET: what a deployment's own backend would sign with. */
  secret: string
}

/** How long a development grant lasts. */
const DEV_GRANT_TTL_SECONDS = 3600

const mint = createRoute({
  method: 'post',
  path: '/dev/grant',
  // Not part of the contract: no deployment serves it (see below).
  hide: true,
  responses: {
    200: success('A grant to read every buffer.', json(z.object({ grant: z.string(), note: z.string() }))),
  },
})

/**
 * `POST /dev/grant`: a grant token to read every buffer, for the demo page at `/`, standing in for the
 * backend that mints grants in a real deployment (doc/security.md shows how). createApp mounts it only
 * with DEV_GRANTS=true (which production refuses) and GRANT_SECRET set: anyone who can reach it can read
 * every buffer, so `npm run local` turns it on and nothing else does.
 */
export function devGrantRoutes({ secret }: DevGrantOptions) {
  const key = new TextEncoder().encode(secret)
  return apiRoutes().openapi(mint, async (c) => {
    const token = await new SignJWT({ buffers: { read: ['*'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`dev-${randomBytes(6).toString('hex')}`)
      .setIssuedAt()
      .setExpirationTime(`${DEV_GRANT_TTL_SECONDS}s`)
      .sign(key)
    // A credential: no cache may keep it.
    c.header('Cache-Control', 'no-store')
    return c.json(
      { grant: token, note: 'development only: a real deployment mints grants in its backend' },
      200,
    )
  })
}
