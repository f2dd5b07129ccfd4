import { createRoute, z } from '@hono/zod-openapi'
import type { Session, SessionBinding } from '../../sessions/store.js'
import { jsonBody } from '../middleware/json-body.js'
import type { ServiceVariables } from '../middleware/services.js'
import { anyJson, type ErrorCode, errorResponses, json, SET_COOKIE, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

// A `__proto__` key, which zod's record would skip without a word, never gets here: jsonBody refuses it
// at any depth.
const sessionData = z.record(z.string(), anyJson).openapi({
  description: 'A JSON object of at most 4 KiB (UTF-8 bytes of its JSON).',
  example: { theme: 'dark' },
})
const createBody = z
  .strictObject({
    /** A grant token to exchange for a session bound to its user; without one, an anonymous session. */
    grant: z
      .string()
      .min(1)
      .max(8192)
      .optional()
      .openapi({
        description:
          "A grant token (JWT) minted by the deployment's backend: the session is bound to its user and reads " +
          'what it grants until its `exp`. Without one, an anonymous session, where SESSIONS_ANONYMOUS allows it.',
      }),
    data: sessionData.default({}),
  })
  .openapi('NewSession', { example: { data: { theme: 'dark' } } })
const patchBody = z
  .strictObject({
    data: sessionData.openapi({ description: 'Merged into the data, shallowly: `null` removes a key.' }),
  })
  .openapi('SessionPatch', { example: { data: { theme: null, cart: [42] } } })

const session = z
  .object({
    id: z.string().openapi({ description: 'The raw session id (never the signed cookie value).' }),
    data: sessionData,
    expiresAt: z.iso
      .datetime()
      .openapi({ description: 'Slides forward on every use (SESSION_TTL_SECONDS).' }),
    user: z.string().optional().openapi({ description: "A bound session's user (the grant token's `sub`)." }),
    grant: z
      .object({ read: z.array(z.string()), write: z.array(z.string()), expiresAt: z.iso.datetime() })
      .optional()
      .openapi({ description: "A bound session's grant, until its `expiresAt` (the token's `exp`)." }),
  })
  .openapi('Session')

/** A session as routes answer with it; a binding's part is made once per binding, which the store reuses. */
function sessionView() {
  const bindingViews = new WeakMap<
    SessionBinding,
    { user: string; grant: z.infer<typeof session>['grant'] }
  >()
  const bindingView = (binding: SessionBinding) => {
    let made = bindingViews.get(binding)
    if (!made) {
      const { sub, grant, grantExpiresAt } = binding
      made = {
        user: sub,
        grant: {
          read: [...grant.read],
          write: [...grant.write],
          expiresAt: new Date(grantExpiresAt).toISOString(),
        },
      }
      bindingViews.set(binding, made)
    }
    return made
  }
  return ({ id, data, expiresAt, binding }: Session): z.infer<typeof session> => ({
    id,
    // JSON: the store holds what validated request bodies held.
    data: data as z.infer<typeof sessionData>,
    expiresAt: expiresAt.toISOString(),
    ...(binding && bindingView(binding)),
  })
}

/** What every route of a session can answer: its cookie is missing or dead, or Redis is. */
const SESSION_ERRORS = [
  'unauthorized',
  'rate_limited',
  'redis_unavailable',
] as const satisfies readonly ErrorCode[]
/** A change to a session: refused from another site's page, and bounded by BODY_LIMIT_BYTES. */
const CHANGE_ERRORS = ['cross_site_request', 'payload_too_large'] as const satisfies readonly ErrorCode[]
const current = { tags: ['Sessions'], security: SECURITY.session }
const sessionResponse = (description: string) => success(description, json(session), SET_COOKIE)

const createSession = createRoute({
  tags: ['Sessions'],
  security: SECURITY.sessionOptional,
  method: 'post',
  path: '/sessions',
  summary: 'Create a session, or exchange a grant token for one',
  description:
    'Always a fresh session id; the session the cookie named, if any, ends (its streams too). An empty ' +
    'request (no body, no Content-Type) is `{}`. Limited per client address (RATE_LIMIT_SESSIONS_PER_MINUTE).',
  request: { body: jsonBody(createBody, { example: { data: { theme: 'dark' } } }) },
  responses: {
    201: sessionResponse('The new session, and its cookie.'),
    ...errorResponses([
      ...SESSION_ERRORS,
      ...CHANGE_ERRORS,
      'bad_request',
      'invalid_body',
      'invalid_grant',
      'session_data_too_large',
      'unsupported_media_type',
    ]),
  },
})

const readSession = createRoute({
  ...current,
  method: 'get',
  path: '/sessions/current',
  summary: 'Read the current session',
  responses: {
    200: sessionResponse('The session; the cookie is sent again with a fresh Max-Age.'),
    ...errorResponses(SESSION_ERRORS, { challenge: 'session' }),
  },
})

const patchSession = createRoute({
  ...current,
  method: 'patch',
  path: '/sessions/current',
  summary: "Merge into the session's data",
  description:
    'Atomic in Redis: concurrent patches of different keys all survive. Over 4 KiB merged: 413, nothing changed.',
  request: { body: jsonBody(patchBody, { example: { data: { theme: null, cart: [42] } } }) },
  responses: {
    200: sessionResponse('The merged session.'),
    ...errorResponses(
      [
        ...SESSION_ERRORS,
        ...CHANGE_ERRORS,
        'bad_request',
        'invalid_body',
        'session_data_too_large',
        'unsupported_media_type',
      ],
      { challenge: 'session' },
    ),
  },
})

const rotateSession = createRoute({
  ...current,
  method: 'post',
  path: '/sessions/current/rotate',
  summary: 'Move the session to a new id',
  description: 'Same data; the old id is dead at once, and its streams resume under the new id.',
  responses: {
    200: sessionResponse('The session under its new id, and the new cookie.'),
    ...errorResponses([...SESSION_ERRORS, ...CHANGE_ERRORS], { challenge: 'session' }),
  },
})

const endSession = createRoute({
  ...current,
  method: 'delete',
  path: '/sessions/current',
  summary: 'Log out',
  description:
    'Ends the session and every stream it opened, on every replica. The cookie is cleared either way.',
  responses: {
    204: success('Ended; the cookie is cleared (Max-Age=0).', undefined, SET_COOKIE),
    ...errorResponses([...SESSION_ERRORS, ...CHANGE_ERRORS], { challenge: 'session' }),
  },
})

/**
 * The browser session resource: each route is one call of the request's session (src/sessions/service.ts).
 * `POST /sessions` with `{"grant": "<token>"}` exchanges a grant token minted by the deployment's
 * backend for a session bound to its user (doc/security.md); without a grant it creates an anonymous
 * session, where SESSIONS_ANONYMOUS allows one.
 */
export function sessionRoutes() {
  const view = sessionView()
  return apiRoutes<{ Variables: ServiceVariables }>()
    .openapi(createSession, async (c) => {
      const { grant, data } = c.req.valid('json')
      const session = c.get('session')
      return c.json(view(await (grant ? session.exchange(grant, data) : session.create(data))), 201)
    })
    .openapi(readSession, async (c) => c.json(view(await c.get('session').require()), 200))
    .openapi(patchSession, async (c) =>
      c.json(view(await c.get('session').patch(c.req.valid('json').data)), 200),
    )
    .openapi(rotateSession, async (c) => c.json(view(await c.get('session').rotate()), 200))
    .openapi(endSession, async (c) => {
      await c.get('session').logout()
      return c.body(null, 204)
    })
}
