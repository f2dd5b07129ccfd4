import { Hono } from 'hono'
import { z } from 'zod'
import type { Session, SessionBinding } from '../../sessions/store.js'
import { jsonBody } from '../middleware/json-body.js'
import type { ServiceVariables } from '../middleware/services.js'

// A `__proto__` key, which zod's record would skip without a word, never gets here: jsonBody refuses it
// at any depth.
const sessionData = z.record(z.string(), z.json())
const createBody = z.strictObject({
  /** A grant token to exchange for a session bound to its user; without one, an anonymous session. */
  grant: z.string().min(1).max(8192).optional(),
  data: sessionData.default({}),
})
const patchBody = z.strictObject({ data: sessionData })

/** A session as routes answer with it; a binding's part is made once per binding, which the store reuses. */
function sessionView() {
  const bindingViews = new WeakMap<SessionBinding, { user: string; grant: object }>()
  const bindingView = (binding: SessionBinding) => {
    let made = bindingViews.get(binding)
    if (!made) {
      const { sub, grant, grantExpiresAt } = binding
      made = { user: sub, grant: { ...grant, expiresAt: new Date(grantExpiresAt).toISOString() } }
      bindingViews.set(binding, made)
    }
    return made
  }
  return ({ id, data, expiresAt, binding }: Session) => ({
    id,
    data,
    expiresAt: expiresAt.toISOString(),
    ...(binding && bindingView(binding)),
  })
}

/**
 * The browser session resource: each route is one call of the request's session (src/sessions/service.ts).
 * `POST /sessions` with `{"grant": "<token>"}` exchanges a grant token minted by the deployment's
 * backend for a session bound to its user (doc/security.md); without a grant it creates an anonymous
 * session, where SESSIONS_ANONYMOUS allows one.
 */
export function sessionRoutes() {
  const view = sessionView()
  return new Hono<{ Variables: ServiceVariables }>()
    .post('/sessions', jsonBody(createBody), async (c) => {
      const { grant, data } = c.req.valid('json')
      const session = c.get('session')
      return c.json(view(await (grant ? session.exchange(grant, data) : session.create(data))), 201)
    })
    .get('/sessions/current', async (c) => c.json(view(await c.get('session').require())))
    .patch('/sessions/current', jsonBody(patchBody), async (c) =>
      c.json(view(await c.get('session').patch(c.req.valid('json').data))),
    )
    .post('/sessions/current/rotate', async (c) => c.json(view(await c.get('session').rotate())))
    .delete('/sessions/current', async (c) => {
      await c.get('session').logout()
      return c.body(null, 204)
    })
}
