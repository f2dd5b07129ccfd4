/**
 * `npm run openapi`: writes the service's OpenAPI document to doc/openapi.json, exactly what
 * `GET /openapi.json` serves. The document comes from the app itself (every route it mounts, from the
 * schemas that validate its requests), so the app is built as main.ts builds it, against a throw-away
 * `redis-server` (the binary on PATH, as `npm run local` and the tests use). Nothing is sent to Redis.
 * tests/http/contract.test.ts fails when the committed file differs from what the code generates.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { RedisMemoryServer } from 'redis-memory-server'
import { createApp } from '../src/app.js'
import { loadEnv } from '../src/env.js'
import { connectRedis } from '../src/redis/connection.js'
import { systemRedisBinary } from './redis-binary.js'

const DOCUMENT_FILE = fileURLToPath(new URL('../doc/openapi.json', import.meta.url))

/** How the document is written: the test compares parsed JSON, people read the diff. */
const documentText = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`

const server = new RedisMemoryServer({ binary: { systemBinary: systemRedisBinary() } })
try {
  await server.start()
  const secret = randomBytes(32).toString('base64url')
  const env = loadEnv({
    REDIS_URL: `redis://${await server.getHost()}:${await server.getPort()}`,
    SESSION_SECRET: secret,
    API_TOKEN: secret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
  })
  const { redis, close } = await connectRedis(env)
  try {
    const app = createApp(env, redis)
    const res = await app.request('/openapi.json')
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`)
    writeFileSync(DOCUMENT_FILE, documentText(await res.json()))
    await app.lifecycle.close()
    process.stdout.write(`npm run openapi: wrote ${DOCUMENT_FILE}\n`)
  } finally {
    await close()
  }
} finally {
  await server.stop()
}
