import { Hono } from 'hono'
import { z } from 'zod'
import { jsonBody } from '../middleware/json-body.js'
import { type SessionAccess, type SessionVariables, sessionRequired } from '../middleware/session.js'
import type { Session, SessionStore } from '../sessions/store.js'

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
 * Applies `write` to the session the signed cookie names, straight away: the script itself answers "no
 * such session" (null), so there is no read first. 401 when there is none; otherwise the cookie is re-sent.
 */
async function writeCurrent(
  access: SessionAccess,
  write: (store: SessionStore, id: string) => Promise<Session | null>,
): Promise<Session> {
  const id = access.cookieId
  const session = id === null ? null : await write(access.store, id)
  if (session === null) throw sessionRequired()
  access.issue(session)
  return session
}

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
      const { data } = c.req.valid('json')
      return c.json(view(await writeCurrent(c.get('session'), (store, id) => store.patch(id, data))))
    })
    .post('/sessions/current/rotate', async (c) =>
      c.json(view(await writeCurrent(c.get('session'), (store, id) => store.rotate(id)))),
    )
    .delete('/sessions/current', async (c) => {
      const access = c.get('session')
      const id = access.cookieId
      // The cookie is cleared only once Redis has answered: after a 503 the browser must still hold it,
      // so that retrying the logout can delete the session.
      const deleted = id !== null && (await access.store.destroy(id))
      access.clear()
      if (!deleted) throw sessionRequired()
      return c.body(null, 204)
    })
}
