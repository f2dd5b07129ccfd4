import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { RedisProcess } from './redis-process.js'

const run = promisify(execFile)

/** Files of a throw-away certificate authority made by {@link TestCertificates.create}. */
export class TestCertificates {
  private constructor(readonly dir: string) {}

  /** The CA's certificate (PEM): what REDIS_TLS_CA_FILE points at. */
  get caFile(): string {
    return join(this.dir, 'ca.crt')
  }

  /**
   * A private CA made with `openssl` (EC P-256: quick to generate), in a temporary directory that
   * {@link TestCertificates.remove} deletes.
   */
  static async create(): Promise<TestCertificates> {
    const certificates = new TestCertificates(mkdtempSync(join(tmpdir(), 'redis-tls-')))
    await openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=hono-redis-service test CA',
      '-keyout',
      join(certificates.dir, 'ca.key'),
      '-out',
      certificates.caFile,
    ])
    return certificates
  }

  /**
   * A server key and certificate signed by the CA for `names` (subjectAltName entries such as
   * `DNS:localhost` or `IP:127.0.0.1`); resolves with the files' paths.
   */
  async issue(label: string, names: readonly string[]): Promise<{ cert: string; key: string }> {
    const key = join(this.dir, `${label}.key`)
    const csr = join(this.dir, `${label}.csr`)
    const cert = join(this.dir, `${label}.crt`)
    const extensions = join(this.dir, `${label}.ext`)
    writeFileSync(extensions, `subjectAltName=${names.join(',')}\n`)
    await openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${label}`,
      '-keyout',
      key,
      '-out',
      csr,
    ])
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.caFile,
      '-CAkey',
      join(this.dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      extensions,
      '-out',
      cert,
    ])
    return { cert, key }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * A `redis-server` that speaks TLS only, with the certificate `issued` by `certificates`; clients need none.
 * `config`: more configuration lines (a cluster node's, for instance).
 */
export function startTlsRedis(
  certificates: TestCertificates,
  issued: { cert: string; key: string },
  config: readonly string[] = [],
): Promise<RedisProcess> {
  return RedisProcess.start(
    [
      'appendonly no',
      `tls-cert-file ${issued.cert}`,
      `tls-key-file ${issued.key}`,
      `tls-ca-cert-file ${certificates.caFile}`,
      'tls-auth-clients no',
      ...config,
    ],
    { tls: true },
  )
}

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args], { timeout: 15_000 })
}
