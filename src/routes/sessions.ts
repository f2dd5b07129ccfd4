import { Hono } from 'hono'
import { z } from 'zod'
import { jsonBody } from '../middleware/json-body.js'
import { type SessionVariables, sessionRequired } from '../middleware/session.js'
import type { Session } from '../sessions/store.js'

const sessionData = z.record(z.string(), z.json())
const createBody = z.strictObject({ data: sessionData.default({}) })
const patchBody = z.strictObject({ data: sessionData })

const view = ({ id, data, expiresAt }: Session) => ({ id, data, expiresAt: expiresAt.toISOString() })

/**
 * The browser session resource. Each route is one Redis round trip: writes go straight to the id in
 * the signed cookie (a script answers "no such session"), reads refresh the TTL as they read.
 * Handlers use `c.get()`: in Hono 4.13 each `c.var` access copies every variable into a new object.
 * `POST /sessions` is where an application puts its login check: verify
 * the credentials, then create the session with what later requests need (user id, roles ...).
 */
export function sessionRoutes() {
  return new Hono<{ Variables: SessionVariables }>()
    .post('/sessions', jsonBody(createBody), async (c) => {
      const access = c.get('session')
      const session = await access.store.create(c.req.valid('json').data)
      access.issue(session)
      return c.json(view(session), 201)
    })
    .get('/sessions/current', async (c) => c.json(view(await c.get('session').require())))
    .patch('/sessions/current', jsonBody(patchBody), async (c) => {
      const access = c.get('session')
      const id = access.cookieId
      const session = id === null ? null : await access.store.patch(id, c.req.valid('json').data)
      if (session === null) throw sessionRequired()
      access.issue(session)
      return c.json(view(session))
    })
    .post('/sessions/current/rotate', async (c) => {
      const access = c.get('session')
      const id = access.cookieId
      const session = id === null ? null : await access.store.rotate(id)
      if (session === null) throw sessionRequired()
      access.issue(session)
      return c.json(view(session))
    })
    .delete('/sessions/current', async (c) => {
      const access = c.get('session')
      const id = access.cookieId
      access.clear()
      if (id === null || !(await access.store.destroy(id))) throw sessionRequired()
      return c.body(null, 204)
    })
}
