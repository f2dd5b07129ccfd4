import { Hono } from 'hono'
import { sessionFingerprint } from '../../sessions/ids.js'
import type { authorization } from '../middleware/auth.js'
import type { ServiceVariables } from '../middleware/services.js'

export interface UserRouteOptions {
  /** The session admin API takes the admin token (API_TOKEN) only. */
  auth: ReturnType<typeof authorization>
}

/**
 * The session admin API, per user (a grant token's `sub`): list a user's live sessions, and end them
 * all ("log out everywhere"), which also ends every stream they opened, on every replica.
 */
export function userRoutes({ auth }: UserRouteOptions) {
  return new Hono<{ Variables: ServiceVariables }>()
    .get('/users/:sub/sessions', auth.admin, async (c) => {
      const sessions = await c.get('sessions').listUser(c.req.param('sub'))
      return c.json({
        sessions: sessions.map(({ id, binding, expiresAt }) => ({
          fingerprint: sessionFingerprint(id),
          createdAt: new Date(binding.createdAt).toISOString(),
          lastSeenAt: new Date(expiresAt.getTime() - c.get('sessions').ttlMs).toISOString(),
          expiresAt: expiresAt.toISOString(),
          grant: { ...binding.grant, expiresAt: new Date(binding.grantExpiresAt).toISOString() },
        })),
      })
    })
    .delete('/users/:sub/sessions', auth.admin, async (c) => {
      const ended = await c.get('sessions').revokeUser(c.req.param('sub'))
      return c.json({ ended })
    })
}
