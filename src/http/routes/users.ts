import { createRoute, z } from '@hono/zod-openapi'
import { userId } from '../../access/grant-tokens.js'
import { sessionFingerprint } from '../../sessions/ids.js'
import type { authorization } from '../middleware/auth.js'
import type { ServiceVariables } from '../middleware/services.js'
import { CREDENTIAL_ERRORS, errorResponses, json, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

export interface UserRouteOptions {
  /** The session admin API takes the admin token (API_TOKEN) only. */
  auth: ReturnType<typeof authorization>
}

// No grant names a user outside the rule, so a `sub` outside it is a mistake: a 400, not an empty answer.
const userParams = z.object({
  sub: userId.openapi({ description: "The user: a grant token's `sub`.", example: 'ada' }),
})

const userSessions = z
  .object({
    sessions: z.array(
      z.object({
        fingerprint: z.string().openapi({ description: 'Tells sessions apart; never enough to use one.' }),
        createdAt: z.iso.datetime(),
        lastSeenAt: z.iso.datetime(),
        expiresAt: z.iso.datetime(),
        grant: z.object({
          read: z.array(z.string()),
          write: z.array(z.string()),
          expiresAt: z.iso.datetime(),
        }),
      }),
    ),
  })
  .openapi('UserSessions')

// What the session admin API answers describes users' sessions and grants: no cache may keep it.
const NO_STORE = 'no-store'

// The session admin API takes the admin token only: its errors are those of any credential, and a bad `sub`.
const ADMIN_ERRORS = [...CREDENTIAL_ERRORS, 'bad_request'] as const
const admin = { tags: ['Session admin'], security: SECURITY.admin, request: { params: userParams } }

const listSessions = createRoute({
  ...admin,
  method: 'get',
  path: '/users/{sub}/sessions',
  summary: "List a user's live sessions",
  responses: {
    200: success('The live sessions, by fingerprint (never the id or the cookie).', json(userSessions)),
    ...errorResponses(ADMIN_ERRORS),
  },
})

const endSessions = createRoute({
  ...admin,
  method: 'delete',
  path: '/users/{sub}/sessions',
  summary: 'End every session of a user ("log out everywhere")',
  description: 'Every stream they opened ends too, on every replica.',
  responses: {
    200: success(
      'How many sessions ended.',
      json(z.object({ ended: z.number().int().min(0) }).openapi('Ended')),
    ),
    ...errorResponses([...ADMIN_ERRORS, 'payload_too_large']),
  },
})

/**
 * The session admin API, per user (a grant token's `sub`): list a user's live sessions, and end them
 * all ("log out everywhere"), which also ends every stream they opened, on every replica.
 */
export function userRoutes({ auth }: UserRouteOptions) {
  return apiRoutes<{ Variables: ServiceVariables }>()
    .openapi({ ...listSessions, middleware: [auth.admin] as const }, async (c) => {
      const sessions = await c.get('sessions').listUser(c.req.valid('param').sub)
      c.header('Cache-Control', NO_STORE)
      return c.json(
        {
          sessions: sessions.map(({ id, binding, expiresAt }) => ({
            fingerprint: sessionFingerprint(id),
            createdAt: new Date(binding.createdAt).toISOString(),
            lastSeenAt: new Date(expiresAt.getTime() - c.get('sessions').ttlMs).toISOString(),
            expiresAt: expiresAt.toISOString(),
            grant: {
              read: [...binding.grant.read],
              write: [...binding.grant.write],
              expiresAt: new Date(binding.grantExpiresAt).toISOString(),
            },
          })),
        },
        200,
      )
    })
    .openapi({ ...endSessions, middleware: [auth.admin] as const }, async (c) => {
      const ended = await c.get('sessions').revokeUser(c.req.valid('param').sub)
      c.header('Cache-Control', NO_STORE)
      return c.json({ ended }, 200)
    })
}
