/**
 * Calling the service from TypeScript with Hono's typed client, `hc<AppType>`: paths, inputs and
 * response bodies are checked by the compiler against the service's own routes (`npm run typecheck`
 * covers this file; tests/examples/typed-client.test.ts runs it against a real service).
 *
 * It creates a session from a grant token, appends with the admin token, reads a page with the
 * session cookie, follows the buffer live with EventSource until the appended item arrives, then
 * follows it and a second buffer over one stream (`GET /events`) until the same item arrives there.
 *
 *   SERVICE_URL=http://localhost:3000 API_TOKEN=... GRANT_TOKEN=... npx tsx examples/typed-client.ts [buffer]
 *
 * GRANT_TOKEN is a grant that reads the buffer and `<buffer>.other`, minted by your backend
 * (doc/security.md); under
 * `npm run local`, `curl -s -X POST localhost:3000/dev/grant` gives one.
 */
import { EventSource } from 'eventsource'
import { hc } from 'hono/client'
import type { AppType } from '../src/app.js'

function setting(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`set ${name} (see the top of examples/typed-client.ts)`)
  return value
}

const client = hc<AppType>(process.env.SERVICE_URL ?? 'http://localhost:3000')
const admin = { headers: { Authorization: `Bearer ${setting('API_TOKEN')}` } }
const name = process.argv[2] ?? 'examples.typed-client'

// 1. A session bound to the grant's user; from now on its cookie authenticates reads.
const created = await client.sessions.$post({ json: { grant: setting('GRANT_TOKEN') } })
if (created.status !== 201) throw new Error(`POST /sessions: ${created.status} ${await created.text()}`)
const session = await created.json()
const cookie = /^sid=[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] ?? ''
const withCookie = { headers: { Cookie: cookie } }

// 2. Append with the admin token (a grant token whose `buffers.write` covers the buffer works too).
const appended = await client.buffers[':name'].items.$post(
  { param: { name }, json: { event: 'tick', data: { sym: 'ACME', px: 12.5 } } },
  admin,
)
if (appended.status !== 201) throw new Error(`append: ${appended.status} ${await appended.text()}`)
const { ids } = await appended.json()
const last = ids.at(-1)

// 3. A page, read with the session cookie; `next` is where the following one starts.
const read = await client.buffers[':name'].items.$get(
  { param: { name }, query: { limit: '100' } },
  withCookie,
)
if (read.status !== 200) throw new Error(`page: ${read.status} ${await read.text()}`)
const page = await read.json()

/**
 * The data of the first `tick` event on the stream at `url` that `isLast` accepts. Node has no cookie
 * jar: the session's cookie is sent along (a browser sends it by itself).
 */
function firstTick(url: URL, isLast: (event: MessageEvent) => boolean): Promise<unknown> {
  const source = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...withCookie.headers } }),
  })
  return new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event within 10 s')), 10_000)
    source.addEventListener('tick', (event) => {
      if (!isLast(event)) return
      clearTimeout(timer)
      resolve(JSON.parse(event.data))
    })
    source.addEventListener('error', (event) => {
      clearTimeout(timer)
      reject(new Error(`EventSource: ${event.message ?? 'error'}`))
    })
  }).finally(() => source.close())
}

// 4. Live, from the oldest retained item, until the item appended above arrives.
const url = client.buffers[':name'].events.$url({ param: { name }, query: { from: 'earliest' } })
const followed = await firstTick(url, (event) => event.lastEventId === last)

// 5. The buffer and another over one stream: each item's data says which buffer and which item it is
// (`{buffer, id, data}`); the event id is the stream's cursor, for Last-Event-ID.
const setUrl = client.events.$url({ query: { buffer: [name, `${name}.other`], from: 'earliest' } })
const followedInSet = await firstTick(setUrl, (event) => JSON.parse(event.data).id === last)

console.log(
  JSON.stringify({
    user: session.user,
    appended: ids,
    page: { items: page.items.length, next: page.next },
    followed,
    followedInSet,
  }),
)
