import { isIP } from 'node:net'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'

/**
 * The address a request is taken to come from, when there is no socket: `app.request()` in tests, or
 * another runtime. Every such request shares it, so they share one rate-limit budget.
 */
export const UNKNOWN_ADDRESS = 'unknown'

/**
 * `::ffff:1.2.3.4` (how a dual-stack socket shows an IPv4 peer), also written `::ffff:102:304`, is
 * `1.2.3.4`; other IPv6 addresses are lower-cased.
 */
function normalise(address: string): string {
  const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (dotted) return dotted[1] as string
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address)
  if (hex) {
    const [high, low] = [Number.parseInt(hex[1] as string, 16), Number.parseInt(hex[2] as string, 16)]
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
  }
  return address.toLowerCase()
}

type NodeBindings = { incoming?: { socket?: unknown }; server?: { incoming?: { socket?: unknown } } }

/** The peer address of the request's socket on @hono/node-server; undefined without one. */
function socketAddress(c: Context): string | undefined {
  const bindings = c.env as NodeBindings | undefined
  if (!(bindings?.server ?? bindings)?.incoming?.socket) return undefined
  return getConnInfo(c).remote.address
}

/**
 * The client's IP address: the socket's peer, unless that peer is a trusted proxy (`trustProxy`,
 * TRUST_PROXY: IP addresses), in which case `X-Forwarded-For` is read from the right, the end the
 * trusted proxies wrote, skipping trusted proxies, and the first untrusted address is the client
 * (the rightmost-untrusted rule: anything left of it was written by the client and could be forged).
 * An entry that is not an IP address stops the walk: the address just right of it, a trusted proxy
 * that cannot tell us more, is the answer. When every address is trusted, the leftmost one is.
 *
 * IPv4-mapped IPv6 addresses are reduced to IPv4 and IPv6 is lower-cased, on both the socket's and the
 * header's addresses, and in `trustProxy` as the caller wrote it (TRUST_PROXY values are compared after
 * the same normalisation). Without a socket (`app.request()`) the answer is {@link UNKNOWN_ADDRESS}.
 * Built once per app, with its TRUST_PROXY.
 *
 * @example
 * ```ts
 * const addressOf = clientAddresses(env.trustProxy)
 * app.post('/sessions', rateLimit('sessions', addressOf))
 * ```
 */
export function clientAddresses(trustProxy: readonly string[]): (c: Context) => string {
  const trusted: ReadonlySet<string> = new Set(trustProxy.map(normalise))
  return (c) => clientAddressOf(c, trusted)
}

function clientAddressOf(c: Context, trusted: ReadonlySet<string>): string {
  const peer = socketAddress(c)
  if (peer === undefined) return UNKNOWN_ADDRESS
  let client = normalise(peer)
  if (!trusted.has(client)) return client
  const forwarded = c.req.header('X-Forwarded-For')
  if (!forwarded) return client
  const hops = forwarded.split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim()
    if (isIP(hop) === 0) return client
    client = normalise(hop)
    if (!trusted.has(client)) return client
  }
  return client
}

/**
 * What a client address is counted as by the rate limits: an IPv4 address as it is, an IPv6 address as
 * its /64 network (`2001:db8:0:1::/64`), which one client usually holds whole: counted per address, it
 * could take a fresh one for every attempt.
 */
export function addressNetwork(address: string): string {
  if (isIP(address) !== 6) return address
  const [head = '', tail] = address.split('::')
  const groups = head === '' ? [] : head.split(':')
  if (tail !== undefined) {
    const rest = tail === '' ? [] : tail.split(':')
    while (groups.length + rest.length < 8) groups.push('0')
    groups.push(...rest)
  }
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`
}
