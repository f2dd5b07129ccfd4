import { readFileSync } from 'node:fs'
import { createRoute, z } from '@hono/zod-openapi'
import { errorResponses, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

/** The static page (src/public/index.html, copied to dist/ on build); read while the app is built. */
export function readPage(): string {
  return readFileSync(new URL('../public/index.html', import.meta.url), 'utf8')
}

const demoPage = createRoute({
  tags: ['Reference'],
  security: SECURITY.public,
  method: 'get',
  path: '/',
  summary: 'A page to try the service',
  description: 'Readiness, a session, and a buffer followed live with the browser’s own EventSource.',
  responses: {
    200: success('An HTML page.', { 'text/html': { schema: z.string() } }),
    ...errorResponses([]),
  },
})

/**
 * `GET /`: one small page, no build step, for a person to try the service: readiness, a session, and
 * a buffer followed live with the browser's own EventSource.
 */
export function pageRoutes({ html }: { html: string }) {
  return apiRoutes().openapi(demoPage, (c) =>
    c.html(html, 200, {
      'Cache-Control': 'no-cache',
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    }),
  )
}
