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

/** TRUST_PROXY is fixed for an app's life: its normalised set is built once per list. */
const trustedSets = new WeakMap<readonly string[], ReadonlySet<string>>()

function trustedSet(trustProxy: readonly string[]): ReadonlySet<string> {
  let set = trustedSets.get(trustProxy)
  if (!set) {
    set = new Set(trustProxy.map(normalise))
    trustedSets.set(trustProxy, set)
  }
  return set
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
 */
export function clientAddress(c: Context, trustProxy: readonly string[]): string {
  const peer = socketAddress(c)
  if (peer === undefined) return UNKNOWN_ADDRESS
  let client = normalise(peer)
  if (trustProxy.length === 0) return client
  const trusted = trustedSet(trustProxy)
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
