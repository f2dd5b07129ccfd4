import { type Context, Hono } from 'hono'
import type { BufferItem } from '../../buffers/items.js'
import type { StreamOwner } from '../../buffers/live/subscriptions.js'
import type { Page } from '../../buffers/store.js'
import { ServiceError } from '../../lib/errors.js'
import { BufferCounters } from '../../process/metrics.js'
import type { AuthVariables, authorization } from '../middleware/auth.js'
import { jsonBody } from '../middleware/json-body.js'
import { rateLimit } from '../middleware/rate-limit.js'
import type { RequestObserver } from '../middleware/request-observer.js'
import type { ServiceVariables } from '../middleware/services.js'
import {
  appendBody,
  bufferSet,
  itemId,
  pageLimit,
  setStreamStarts,
  streamStart,
  toNewItems,
  validName,
} from './buffer-input.js'

export interface BufferRouteOptions {
  /** Who may read and write which buffer (see doc/security.md). */
  auth: ReturnType<typeof authorization>
  /** Where stored appends are counted (the app's metrics); failures are counted by {@link appendFailures}. */
  counters?: BufferCounters
  /** SSE_MAX_BUFFERS_PER_STREAM: the most buffers `GET /events` follows over one stream. */
  maxBuffersPerStream: number
}

const APPEND_ROUTE = '/buffers/:name/items'

/**
 * Counts refused and failed appends by their error code: an observer for `observeRequests()`, which
 * sees every one, those refused before the route (a body over BODY_LIMIT_BYTES) included.
 */
export const appendFailures =
  (counters: BufferCounters): RequestObserver =>
  ({ method, route, status, failureCode }) => {
    if (status >= 400 && route === APPEND_ROUTE && method === 'POST') {
      counters.appendFailed(failureCode ?? `http_${status}`)
    }
  }

/** The stored JSON text goes out as it is, without a parse and a serialise per item. */
const itemJson = ({ id, event, data, time }: BufferItem) =>
  `{"id":"${id}","event":${JSON.stringify(event)},"data":${data},"time":"${new Date(time).toISOString()}"}`

/** A page's body; `next` is where the following page starts (the `after` to send), null for none yet. */
function pageJson(page: Page, after: string | undefined): string {
  const next = page.items.at(-1)?.id ?? (page.reset ? null : (after ?? null))
  const reset = page.reset ? `,"reset":true,"reason":"${page.reset.reason}"` : ''
  return `{"items":[${page.items.map(itemJson).join(',')}],"next":${next ? `"${next}"` : 'null'}${reset}}`
}

/** What ends a stream besides its client: the session that opened it, and the grant that allowed it. */
function streamOwner(c: Context<{ Variables: ServiceVariables & AuthVariables }>): StreamOwner {
  const { sessionId, grantExpiresAt } = c.get('principal')
  const sessions = c.get('sessions')
  return {
    ...(grantExpiresAt !== undefined && { endsAt: grantExpiresAt }),
    ...(sessionId !== undefined && {
      sessionId,
      expiry: { afterMs: sessions.ttlMs, remainingMs: () => sessions.remainingMs(sessionId) },
    }),
  }
}

/**
 * Data-plane buffers: append and delete (write), page, describe and follow live over SSE (read), one
 * buffer per stream or several (`GET /events?buffer=a&buffer=b`).
 * See doc/security.md for who may do which, and doc/architecture.md, "Streams", for ids, resume and
 * the reset rule.
 */
export function bufferRoutes({
  auth,
  counters = new BufferCounters(),
  maxBuffersPerStream,
}: BufferRouteOptions) {
  const writer = auth.buffer('write')
  const reader = auth.buffer('read')
  // Every buffer `?buffer=` names must be readable: one that is not refuses the whole stream.
  const setReader = auth.buffer('read', (c) => c.req.queries('buffer') ?? [])
  // Per grant subject (RATE_LIMIT_APPENDS_PER_MINUTE); the admin token's producers are not limited.
  const appendsOfUser = rateLimit<ServiceVariables & AuthVariables>('appends', (c) => c.get('principal').sub)

  return new Hono<{ Variables: ServiceVariables & AuthVariables }>()
    .post(APPEND_ROUTE, writer, appendsOfUser, validName, jsonBody(appendBody), async (c) => {
      const items = toNewItems(c.req.valid('json'))
      const ids = await c.get('buffers').append(c.req.param('name'), items)
      counters.itemsAppended += ids.length
      counters.appendBatches++
      return c.json({ ids }, 201)
    })
    .get('/buffers/:name/items', reader, validName, async (c) => {
      const rawAfter = c.req.query('after')
      const after = rawAfter === undefined ? undefined : itemId(rawAfter, 'after')
      const limit = pageLimit(c.req.query('limit'))
      const page = await c.get('buffers').read(c.req.param('name'), after ? { after } : 'oldest', limit)
      return c.body(pageJson(page, after), 200, { 'Content-Type': 'application/json' })
    })
    .get('/buffers/:name', reader, validName, async (c) => {
      const name = c.req.param('name')
      const info = await c.get('buffers').info(name)
      if (!info) throw new ServiceError('not_found', 'buffer_not_found', `No buffer named ${name}`)
      return c.json({ name, ...info, subscribers: c.get('subscriptions').subscribers(name) })
    })
    .delete('/buffers/:name', writer, validName, async (c) => {
      await c.get('buffers').delete(c.req.param('name'))
      return c.body(null, 204)
    })
    .get('/buffers/:name/events', reader, validName, (c) =>
      c.get('subscriptions').subscribe(c, c.req.param('name'), streamStart(c), streamOwner(c)),
    )
    .get('/events', setReader, (c) => {
      const set = bufferSet(c, maxBuffersPerStream)
      return c.get('subscriptions').subscribeToSet(c, set, setStreamStarts(c, set), streamOwner(c))
    })
}
