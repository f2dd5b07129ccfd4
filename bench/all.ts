/**
 * `npm run bench`: every benchmark under bench/ (sessions, appends, SSE fan-out), one after the other, each
 * with the baselines it measures in the same run, then one markdown table of their figures and ratios, and
 * the machine it ran on. doc/performance.md keeps the latest table and the history of each figure.
 *
 * Each benchmark runs as its own process, as `npm run bench:<name>` would (their own output is shown as it
 * comes), and hands its figures back through BENCH_RESULT_FILE (bench/support/report.ts).
 * BENCH_ONLY=sessions,sse picks some; every benchmark's own variables (BENCH_CYCLES, ...) pass through.
 * Exits 1 when a benchmark fails to run; a missed target is a MISS in the table, not a failure.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { systemRedisBinary } from '../scripts/redis-binary.js'
import { REPO_ROOT } from './support/processes.js'
import type { Figure } from './support/report.js'

const BENCHMARKS = [
  { name: 'sessions', file: 'bench/sessions.ts' },
  { name: 'append', file: 'bench/append.ts' },
  { name: 'sse', file: 'bench/sse-fanout.ts' },
]
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim())
const selected = BENCHMARKS.filter((bench) => !only || only.includes(bench.name))

const dir = mkdtempSync(join(tmpdir(), 'bench-all-'))
const figures: Figure[] = []
const failures: string[] = []
const started = Date.now()
try {
  for (const bench of selected) {
    const resultFile = join(dir, `${bench.name}.jsonl`)
    console.log(`\n==> ${bench.name} (${bench.file})`)
    const run = spawnSync(process.execPath, ['--import', 'tsx', bench.file], {
      cwd: REPO_ROOT,
      env: { ...process.env, BENCH_RESULT_FILE: resultFile },
      stdio: 'inherit',
    })
    if (run.status !== 0) failures.push(`${bench.name} exited ${run.status ?? run.signal}`)
    try {
      for (const line of readFileSync(resultFile, 'utf8').split('\n').filter(Boolean)) {
        figures.push(JSON.parse(line) as Figure)
      }
    } catch {
      failures.push(`${bench.name} reported no figures`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const number = (value: number) =>
  Number.isInteger(value) || Math.abs(value) >= 1000
    ? Math.round(value).toLocaleString('en-US')
    : value.toFixed(Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2)
const withUnit = (value: number, unit: string) => (unit ? `${number(value)} ${unit}` : number(value))

/** The first line a command prints, on stdout or stderr (nginx -v writes to stderr). */
function firstLine(command: string, args: string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8' })
  if (run.error) return `${command}: not available`
  return `${run.stdout}${run.stderr}`.split('\n')[0] ?? ''
}

const commit = firstLine('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])
const dirty =
  firstLine('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no']) === ''
    ? ''
    : ' + local changes'
const machine = [
  `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  `Node ${process.version}`,
  firstLine(systemRedisBinary(), ['--version']).split(' ').slice(0, 3).join(' '),
  firstLine('/usr/sbin/nginx', ['-v']).replace('nginx version: ', ''),
].join(', ')

console.log(`\n## Benchmarks: ${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty}\n`)
console.log(`Machine: ${machine}. Wall time ${((Date.now() - started) / 60_000).toFixed(1)} min.\n`)
console.log('| benchmark | figure | ours | baseline | ratio | target | verdict |')
console.log('| --- | --- | ---: | --- | ---: | --- | --- |')
for (const f of figures) {
  const baseline = f.baseline ? `${f.baseline.name}: ${withUnit(f.baseline.value, f.unit)}` : ''
  // Three decimals: 0.797x must not read as the 0.8x it misses.
  const ratio = f.ratio === undefined || !Number.isFinite(f.ratio) ? '' : `${f.ratio.toFixed(3)}x`
  const verdict = f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS'
  console.log(
    `| ${f.benchmark} | ${f.figure} | ${withUnit(f.ours, f.unit)} | ${baseline} | ${ratio} | ${f.target ?? ''} | ${verdict} |`,
  )
}
if (failures.length > 0) {
  console.log(`\nNot measured: ${failures.join('; ')}`)
  process.exitCode = 1
}
