/**
 * The peer: express 5 + express-session + connect-redis, configured as their docs recommend for a
 * rolling session (resave false, so each request is a GET and then a touch: two round trips).
 */
import { RedisStore } from 'connect-redis'
import express from 'express'
import session from 'express-session'
import { createClient } from 'redis'

const redis = createClient({ url: process.env.REDIS_URL })
redis.on('error', () => {})
await redis.connect()

const app = express()
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: 'bench:sess:', ttl: 86_400 }),
    secret: 'bench-secret-that-is-long-enough-0123456789',
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 86_400_000 },
  }),
)
app.use(express.json())

declare module 'express-session' {
  interface SessionData {
    data: Record<string, unknown>
  }
}

app.post('/login', (req, res) => {
  req.session.data = { user: 'ada', roles: ['admin'] }
  res.status(201).json({ data: req.session.data })
})
app.get('/session', (req, res) => {
  if (!req.session.data) {
    res.status(401).json({ error: 'no session' })
    return
  }
  res.json({ data: req.session.data })
})

app.listen(Number(process.env.PORT), '127.0.0.1')
