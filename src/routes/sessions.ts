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
 * `POST /sessions` is where an application puts its login check: verify
 * the credentials, then create the session with what later requests need (user id, roles ...).
 */
export function sessionRoutes() {
  return new Hono<{ Variables: SessionVariables }>()
    .post('/sessions', jsonBody(createBody), async (c) => {
      const session = await c.var.session.store.create(c.req.valid('json').data)
      c.var.session.issue(session)
      return c.json(view(session), 201)
    })
    .get('/sessions/current', async (c) => c.json(view(await c.var.session.require())))
    .patch('/sessions/current', jsonBody(patchBody), async (c) => {
      const { cookieId, store } = c.var.session
      const session = cookieId === null ? null : await store.patch(cookieId, c.req.valid('json').data)
      if (session === null) throw sessionRequired()
      c.var.session.issue(session)
      return c.json(view(session))
    })
    .post('/sessions/current/rotate', async (c) => {
      const { cookieId, store } = c.var.session
      const session = cookieId === null ? null : await store.rotate(cookieId)
      if (session === null) throw sessionRequired()
      c.var.session.issue(session)
      return c.json(view(session))
    })
    .delete('/sessions/current', async (c) => {
      const { cookieId, store } = c.var.session
      c.var.session.clear()
      if (cookieId === null || !(await store.destroy(cookieId))) throw sessionRequired()
      return c.body(null, 204)
    })
}
