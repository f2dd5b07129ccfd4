import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createRoute, z } from '@hono/zod-openapi'
import { ServiceError } from '../../lib/errors.js'
import { asJsonText, jsonText } from '../openapi/json-text.js'
import { errorResponses, json, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

export interface ReferenceOptions {
  /** The app's OpenAPI document (see openapi/document.ts); built on the first request that needs it. */
  document: () => object
}

/**
 * The reference page's own policy: scripts and styles from this service only (the Swagger UI files
 * below), inline style attributes (which Swagger UI sets), its icons as data: URLs, calls to this
 * service only, and no framing.
 */
const REFERENCE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

const ASSET_TYPES = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8' } as const

/** What `/docs/{file}` serves: Swagger UI from the swagger-ui-dist package, and the page's own script. */
const ASSETS: Record<string, () => URL> = {
  'swagger-ui.css': () => swaggerUiFile('swagger-ui.css'),
  'swagger-ui-bundle.js': () => swaggerUiFile('swagger-ui-bundle.js'),
  'reference.js': () => new URL('../public/reference.js', import.meta.url),
}

function swaggerUiFile(name: string): URL {
  const packageJson = createRequire(import.meta.url).resolve('swagger-ui-dist/package.json')
  return new URL(name, `file://${packageJson}`)
}

const openApiObject = z
  .looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) })
  .openapi('OpenAPI', { description: 'An OpenAPI 3.1 document.' })

const openApiDocument = createRoute({
  tags: ['Reference'],
  security: SECURITY.public,
  method: 'get',
  path: '/openapi.json',
  summary: 'This OpenAPI document',
  responses: {
    200: success(
      'The OpenAPI 3.1 document of this service (also doc/openapi.json in the repository).',
      json(openApiObject),
    ),
    ...errorResponses([]),
  },
})

const referencePage = createRoute({
  tags: ['Reference'],
  security: SECURITY.public,
  method: 'get',
  path: '/docs',
  summary: 'The API reference, to read and to try calls from',
  description: 'Swagger UI over `/openapi.json`, served by the service itself: it works offline.',
  responses: {
    200: success('An HTML page.', { 'text/html': { schema: z.string() } }),
    ...errorResponses([]),
  },
})

const referenceAsset = createRoute({
  method: 'get',
  path: '/docs/{file}',
  // The page's own files: part of the page, not of the API.
  hide: true,
  request: { params: z.object({ file: z.string() }) },
  responses: {
    200: success('A script or a style sheet.', { 'text/javascript': { schema: z.string() } }),
    ...errorResponses(['not_found']),
  },
})

/** Reads a file the first time it is asked for, then keeps it: no I/O while the app is built. */
function cachedFile(url: () => URL): () => string {
  let content: string | undefined
  return () => {
    content ??= readFileSync(url(), 'utf8')
    return content
  }
}

/**
 * `GET /openapi.json` (the contract, public: it holds no secret, as doc/security.md records) and
 * `GET /docs`, an interactive reference, with its scripts and styles served from npm packages through
 * `/docs/{file}`, so it works offline and under its Content-Security-Policy.
 */
export function referenceRoutes({ document }: ReferenceOptions) {
  let documentJson: string | undefined
  const page = cachedFile(() => new URL('../public/reference.html', import.meta.url))
  const assets = new Map(Object.entries(ASSETS).map(([name, url]) => [name, cachedFile(url)]))
  return apiRoutes()
    .openapi(openApiDocument, (c) => {
      documentJson ??= JSON.stringify(document())
      return jsonText(c, asJsonText<z.infer<typeof openApiObject>>(documentJson), 200)
    })
    .openapi(referencePage, (c) =>
      c.body(page(), 200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': REFERENCE_CSP,
      }),
    )
    .openapi(referenceAsset, (c) => {
      const { file } = c.req.valid('param')
      const asset = assets.get(file)
      if (!asset) throw new ServiceError('not_found', 'not_found', `No route for GET ${c.req.path}`)
      const type = ASSET_TYPES[file.endsWith('.css') ? 'css' : 'js']
      return c.body(asset(), 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' })
    })
}
