import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { addressNetwork, clientAddresses, UNKNOWN_ADDRESS } from '../../src/http/client-address.js'

/** An app answering with the client address it sees, trusting `trust`. */
function echo(trust: readonly string[]) {
  const app = new Hono()
  app.get('/', (c) => c.text(clientAddresses(trust)(c)))
  return app
}

/** A request as @hono/node-server hands it over: `c.env.incoming.socket` is the connection. */
async function addressOf(peer: string | undefined, trust: string[], forwarded?: string | string[]) {
  const headers = new Headers()
  for (const value of forwarded === undefined ? [] : [forwarded].flat())
    headers.append('X-Forwarded-For', value)
  const res = await echo(trust).request('/', { headers }, { incoming: { socket: { remoteAddress: peer } } })
  return res.text()
}

const PROXY = '10.0.0.1'
const EDGE = '10.0.0.2'
const CLIENT = '198.51.100.4'

describe('clientAddress', () => {
  it.each<[string, string, string[], string | string[] | undefined, string]>([
    ['the socket peer when no proxy is trusted', '203.0.113.7', [], CLIENT, '203.0.113.7'],
    [
      'the peer when it is not a trusted proxy, whatever it forwards',
      '203.0.113.7',
      [PROXY],
      CLIENT,
      '203.0.113.7',
    ],
    ['the forwarded client behind a trusted proxy', PROXY, [PROXY], CLIENT, CLIENT],
    ['the peer when a trusted proxy forwards nothing', PROXY, [PROXY], undefined, PROXY],
    [
      'the rightmost untrusted address, not a forged one left of it',
      PROXY,
      [PROXY],
      `6.6.6.6, ${CLIENT}`,
      CLIENT,
    ],
    [
      'the first untrusted address behind a chain of trusted proxies',
      PROXY,
      [PROXY, EDGE],
      `6.6.6.6, ${CLIENT}, ${EDGE}`,
      CLIENT,
    ],
    ['the leftmost address when every one is trusted', PROXY, [PROXY, EDGE], EDGE, EDGE],
    [
      'the last trusted hop when an invalid entry stops the walk',
      PROXY,
      [PROXY, EDGE],
      `${CLIENT}, garbage, ${EDGE}`,
      EDGE,
    ],
    ['the peer when the rightmost entry is invalid', PROXY, [PROXY], `${CLIENT}, unknown`, PROXY],
    ['the peer when the rightmost entry has a port', PROXY, [PROXY], `${CLIENT}:4711`, PROXY],
    ['the peer when the rightmost entry is empty', PROXY, [PROXY], `${CLIENT},`, PROXY],
    [
      'addresses across repeated headers, in order',
      PROXY,
      [PROXY, EDGE],
      ['6.6.6.6', `${CLIENT}, ${EDGE}`],
      CLIENT,
    ],
    ['entries with spaces around them', PROXY, [PROXY], `  ${CLIENT}  `, CLIENT],
    ['an IPv4-mapped peer as IPv4', `::ffff:203.0.113.7`, [], undefined, '203.0.113.7'],
    ['an IPv4-mapped peer that matches a trusted IPv4', `::ffff:${PROXY}`, [PROXY], CLIENT, CLIENT],
    ['an IPv4 peer that matches a trusted IPv4-mapped address', PROXY, [`::ffff:${PROXY}`], CLIENT, CLIENT],
    ['an IPv4-mapped forwarded address as IPv4', PROXY, [PROXY], `::FFFF:${CLIENT}`, CLIENT],
    ['a hex IPv4-mapped forwarded address as IPv4', PROXY, [PROXY], '::ffff:c633:6404', CLIENT],
    ['IPv6 lower-cased', '2001:DB8::1', [], undefined, '2001:db8::1'],
    [
      'an IPv6 client behind an IPv6 proxy',
      '2001:db8::a',
      ['2001:DB8::A'],
      '2001:db8::beef',
      '2001:db8::beef',
    ],
  ])('gives %s', async (_, peer, trust, forwarded, expected) => {
    expect(await addressOf(peer, trust, forwarded)).toBe(expected)
  })

  it(`is '${UNKNOWN_ADDRESS}' without a socket (app.request()), and believes no header then`, async () => {
    const res = await echo([PROXY]).request('/', { headers: { 'X-Forwarded-For': CLIENT } })
    expect(await res.text()).toBe(UNKNOWN_ADDRESS)
    expect(await addressOf(undefined, [PROXY], CLIENT)).toBe(UNKNOWN_ADDRESS)
  })

  describe('over real HTTP', () => {
    const servers: ReturnType<typeof serve>[] = []
    afterAll(() => {
      for (const server of servers) server.close()
    })
    const served = (trust: string[]) =>
      new Promise<string>((resolve) => {
        servers.push(
          serve({ fetch: echo(trust).fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
            resolve(`http://127.0.0.1:${info.port}/`),
          ),
        )
      })

    it('reads the socket, and X-Forwarded-For only from a trusted peer', async () => {
      const headers = { 'X-Forwarded-For': CLIENT }
      expect(await (await fetch(await served([]), { headers })).text()).toBe('127.0.0.1')
      expect(await (await fetch(await served(['127.0.0.1']), { headers })).text()).toBe(CLIENT)
    })
  })
})

describe('addressNetwork', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::', 'fe80:0:0:0::/64'],
    ['2001:0db8:0000:0001::', '2001:db8:0:1::/64'],
  ])('%s counts as %s', (address, network) => {
    expect(addressNetwork(address)).toBe(network)
  })

  it('gives two addresses of one /64 the same subject, and of two /64s different ones', () => {
    expect(addressNetwork('2001:db8:0:1::a')).toBe(addressNetwork('2001:db8:0:1:ffff::b'))
    expect(addressNetwork('2001:db8:0:1::a')).not.toBe(addressNetwork('2001:db8:0:2::a'))
  })
})
