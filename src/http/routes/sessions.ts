import { Hono } from 'hono'
import { z } from 'zod'
import type { Session } from '../../sessions/store.js'
import { jsonBody } from '../middleware/json-body.js'
import type { ServiceVariables } from '../middleware/services.js'

// zod's record skips a `__proto__` key (a prototype-pollution guard): the key would vanish without a
// word, so it is refused before the record sees it.
const sessionData = z.preprocess(
  (value, ctx) => {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: '"__proto__" is not allowed as a key', input: value })
    }
    return value
  },
  z.record(z.string(), z.json()),
)
const createBody = z.strictObject({ data: sessionData.default({}) })
const patchBody = z.strictObject({ data: sessionData })

const view = ({ id, data, expiresAt }: Session) => ({ id, data, expiresAt: expiresAt.toISOString() })

/**
 * The browser session resource: each route is one call of the request's session (src/sessions/service.ts)
 * and one Redis round trip. `POST /sessions` is where an application puts its login check: verify the
 * credentials, then create the session with what later requests need (user id, roles ...).
 */
export function sessionRoutes() {
  return new Hono<{ Variables: ServiceVariables }>()
    .post('/sessions', jsonBody(createBody), async (c) =>
      c.json(view(await c.get('session').create(c.req.valid('json').data)), 201),
    )
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
