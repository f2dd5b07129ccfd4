/**
 * Who may do what, as data: every route crossed with every kind of credential. The test
 * tests/http/access-decisions.test.ts checks the app against it, cell for cell, and that doc/security.md
 * holds it as rendered by {@link renderDecisions}.
 */

/** Columns: the kinds of credential. */
export const CREDENTIALS = [
  'none',
  'anonymous session',
  'session: read grant for another buffer',
  'session: matching read grant',
  'token: matching read grant',
  'token: matching read grant (EdDSA key)',
  'token: matching write grant',
  'token: expired',
  'token: retired or unknown key',
  'token: alg none',
  'token: HS256 signed with the public key',
  'token: exp too far ahead',
  'metrics token',
  'admin token',
] as const
export type Credential = (typeof CREDENTIALS)[number]

/** What a cell expects: a status, and for errors the body's code. */
export type Outcome = 200 | 201 | 204 | '401 unauthorized' | '401 invalid_grant' | '403 forbidden'

const U = '401 unauthorized'
const G = '401 invalid_grant'
const F = '403 forbidden'

/** The invalid tokens, in CREDENTIALS order: each is a 401 `invalid_grant` wherever a token is read. */
const BAD_TOKENS = [G, G, G, G, G] as const

/** Rows: route -> outcome per credential, in CREDENTIALS order. */
export const DECISIONS: Record<string, readonly Outcome[]> = {
  'POST /buffers/:name/items': [U, U, U, U, F, F, 201, ...BAD_TOKENS, F, 201],
  'GET /buffers/:name/items': [U, F, F, 200, 200, 200, F, ...BAD_TOKENS, F, 200],
  'GET /buffers/:name': [U, F, F, 200, 200, 200, F, ...BAD_TOKENS, F, 200],
  'GET /buffers/:name/events': [U, F, F, 200, 200, 200, F, ...BAD_TOKENS, F, 200],
  'GET /events?buffer=:name': [U, F, F, 200, 200, 200, F, ...BAD_TOKENS, F, 200],
  'DELETE /buffers/:name': [U, U, U, U, F, F, 204, ...BAD_TOKENS, F, 204],
  'GET /metrics': [U, U, U, U, F, F, F, ...BAD_TOKENS, 200, 200],
  'GET /users/:sub/sessions': [U, U, U, U, F, F, F, ...BAD_TOKENS, F, 200],
  'DELETE /users/:sub/sessions': [U, U, U, U, F, F, F, ...BAD_TOKENS, F, 200],
  'GET /sessions/current': [U, 200, 200, 200, U, U, U, U, U, U, U, U, U, U],
  // The contract and its reference page: public, they describe the API and hold no secret.
  'GET /openapi.json': CREDENTIALS.map(() => 200),
  'GET /docs': CREDENTIALS.map(() => 200),
}

/** The table as Markdown, as doc/security.md shows it. */
export function renderDecisions(): string {
  const header = `| route | ${CREDENTIALS.join(' | ')} |`
  const rule = `| --- | ${CREDENTIALS.map(() => '---').join(' | ')} |`
  const rows = Object.entries(DECISIONS).map(
    ([route, outcomes]) => `| \`${route}\` | ${outcomes.map((outcome) => String(outcome)).join(' | ')} |`,
  )
  return [header, rule, ...rows].join('\n')
}
