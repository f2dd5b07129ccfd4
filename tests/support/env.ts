import { type Env, loadEnv } from '../../src/env.js'

/** Throw-away secrets, long enough to pass validation; never used outside tests. */
export const TEST_SESSION_SECRET = 'test-session-secret-0123456789abcdef-0001'
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdefghijklmnop-01'

/** The environment a test process would get, as raw variables (strings), for loadEnv or a spawn. */
export function rawTestEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    SESSION_SECRET: TEST_SESSION_SECRET,
    API_TOKEN: TEST_API_TOKEN,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...overrides,
  }
}

export function testEnv(redisUrl: string, overrides: Record<string, string> = {}): Env {
  return loadEnv(rawTestEnv(redisUrl, overrides))
}
