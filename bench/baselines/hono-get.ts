/**
 * The ceiling: a minimal Hono app that does exactly one Redis GET per request and returns it as JSON.
 * Nothing a real session needs (cookie signing, expiry, logging) is done here.
 */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { createClient } from 'redis'

const KEY = 'bench:ceiling'
const redis = createClient({ url: process.env.REDIS_URL })
redis.on('error', () => {})
await redis.connect()
await redis.set(KEY, JSON.stringify({ user: 'ada', roles: ['admin'] }))

const app = new Hono().get('/session', async (c) =>
  c.json({ data: JSON.parse((await redis.get(KEY)) ?? 'null') }),
)
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' })
