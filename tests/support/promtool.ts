import { spawnSync } from 'node:child_process'

/**
 * Prometheus's `promtool` (Debian package `prometheus`), for the tests that check the metrics, the alert
 * rules and their tests with the tool Prometheus itself uses. CI installs it; a machine without it
 * skips those tests, and says why.
 */
export const promtoolVersion: string | undefined = (() => {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
  if (found.error || found.status !== 0) return undefined
  return `${found.stdout}${found.stderr}`.split('\n')[0]
})()

const INSTALL = 'install it with `apt-get install -y --no-install-recommends prometheus`'

/** What a skipped test's name says, so the report shows why it did not run. */
export const PROMTOOL_MISSING = promtoolVersion ? '' : ` [SKIPPED: promtool is not on PATH; ${INSTALL}]`

if (!promtoolVersion) {
  // Under CI (CI=true, as CI services set it) a missing promtool is a broken setup, not a reason to skip.
  if (process.env.CI)
    throw new Error(`promtool is not on PATH, and CI must run the promtool checks: ${INSTALL}`)
  process.stderr.write(`promtool tests:${PROMTOOL_MISSING}\n`)
}

export interface PromtoolRun {
  status: number | null
  /** stdout and stderr together, for a failure's message. */
  output: string
}

/** Runs `promtool ...args` (with `input` on stdin), bounded in time. */
export function promtool(args: readonly string[], input?: string): PromtoolRun {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30_000 })
  if (run.error) throw run.error
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}
