import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { bufferName } from '../support/buffers.js'
import { rawTestEnv, TEST_API_TOKEN } from '../support/env.js'
import { grantToken } from '../support/grants.js'
import { freePort } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'

/** examples/typed-client.ts, run as a reader of the README would run it, against the real service. */
const run = promisify(execFile)
const redisUrl = inject('redisUrl')
let service: ServiceProcess
let base: string

beforeAll(async () => {
  service = ServiceProcess.spawn(rawTestEnv(redisUrl, { PORT: String(await freePort()), HOST: '127.0.0.1' }))
  base = await service.listening()
})
afterAll(() => service?.stop())

describe('examples/typed-client.ts', () => {
  it('creates a session, appends, reads a page and follows the buffer live, alone and with another', async () => {
    const name = bufferName('example')
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/typed-client.ts', name], {
      env: {
        PATH: process.env.PATH ?? '',
        SERVICE_URL: base,
        API_TOKEN: TEST_API_TOKEN,
        GRANT_TOKEN: await grantToken({ sub: 'example-user', read: [name, `${name}.other`] }),
      },
      timeout: 20_000,
    })
    const result = JSON.parse(stdout) as { appended: string[]; page: { next: string }; followed: unknown }
    expect(result).toMatchObject({
      user: 'example-user',
      page: { items: 1, next: result.appended[0] },
      followed: { sym: 'ACME', px: 12.5 },
      followedInSet: { buffer: name, id: result.appended[0], data: { sym: 'ACME', px: 12.5 } },
    })
  })
})
