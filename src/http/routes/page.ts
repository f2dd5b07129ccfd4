import { readFileSync } from 'node:fs'
import { Hono } from 'hono'

/** The static page (src/public/index.html, copied to dist/ on build); read while the app is built. */
export function readPage(): string {
  return readFileSync(new URL('../public/index.html', import.meta.url), 'utf8')
}

/**
 * `GET /`: one small page, no build step, for a person to try the service: readiness, a session, and
 * a buffer followed live with the browser's own EventSource.
 */
export function pageRoutes({ html }: { html: string }) {
  return new Hono().get('/', (c) =>
    c.html(html, 200, {
      'Cache-Control': 'no-cache',
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    }),
  )
}
