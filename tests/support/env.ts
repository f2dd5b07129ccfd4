import { type Env, loadEnv } from '../../src/env.js'

/** Throw-away secrets, long enough to pass validation; never used outside tests. */
export const TEST_SESSION_SECRET = 'test-session-secret-0123456789abcdef-0001'
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdefghijklmnop-01'
export const TEST_GRANT_SECRET = 'test-grant-secret-0123456789abcdefghijklm-01'

/** The environment a test process would get, as raw variables (strings), for loadEnv or a spawn. */
export function rawTestEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    SESSION_SECRET: TEST_SESSION_SECRET,
    API_TOKEN: TEST_API_TOKEN,
    GRANT_SECRET: TEST_GRANT_SECRET,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    // app.request() has no socket, so every in-process request shares one client address: suites that
    // create sessions would share its 30 a minute. Rate-limit tests set their own limit.
    RATE_LIMIT_SESSIONS_PER_MINUTE: '1000000',
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
    ...overrides,
  }
}

export function testEnv(redisUrl: string, overrides: Record<string, string> = {}): Env {
  return loadEnv(rawTestEnv(redisUrl, overrides))
}
