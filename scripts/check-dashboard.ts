/**
 * Checks that every query of the Grafana dashboard (ops/grafana-dashboard.json: panel targets and
 * template variables) and every expression of the alert rules (ops/alerts.yml) names only metrics the
 * service exports: a renamed metric must not leave a panel or an alert silently empty.
 *
 * The metric names come from the app itself: it is built in process, as main.ts builds it, over a Redis
 * client that is never connected (building an app does no network I/O), and its registry is scraped;
 * with `--metrics <file>` they come from a saved scrape instead (`curl .../metrics > scrape.txt`).
 *
 * Run: `npx tsx scripts/check-dashboard.ts [--metrics scrape.txt] [--dashboard path] [--alerts path]`.
 * Prints one line per unknown name and exits 1 if there is any.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from 'redis'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** PromQL words that are not metric names: aggregations, keywords, binary operators by name. */
const NOT_METRICS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
])

/**
 * The metric names a PromQL expression (or a Grafana variable query such as `label_values(m, label)`)
 * refers to. Not a parser: it drops what cannot hold a metric name (strings, label matchers, ranges,
 * grouping clauses, Grafana variables) and keeps the identifiers that are not functions or keywords.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Grafana's label_values(metric, label) and label_values(label): only the metric is one.
    .replace(/\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)/g, ' $1 ')
    .replace(/\blabel_values\s*\(\s*\w+\s*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
  const names = new Set<string>()
  for (const match of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\()?/g)) {
    const [, name, call] = match as unknown as [string, string, string | undefined]
    if (call || NOT_METRICS.has(name.toLowerCase())) continue
    names.add(name)
  }
  return [...names]
}

/** Every query of a Grafana dashboard: panel targets (rows' nested panels too) and query variables. */
export function dashboardQueries(dashboard: unknown): { where: string; expr: string }[] {
  const queries: { where: string; expr: string }[] = []
  const board = dashboard as {
    panels?: Panel[]
    templating?: { list?: { name?: string; type?: string; query?: unknown; definition?: string }[] }
  }
  interface Panel {
    title?: string
    panels?: Panel[]
    targets?: { expr?: string; refId?: string }[]
  }
  const visit = (panel: Panel) => {
    for (const target of panel.targets ?? []) {
      if (target.expr)
        queries.push({ where: `panel "${panel.title}" ${target.refId ?? ''}`, expr: target.expr })
    }
    for (const inner of panel.panels ?? []) visit(inner)
  }
  for (const panel of board.panels ?? []) visit(panel)
  for (const variable of board.templating?.list ?? []) {
    if (variable.type !== 'query') continue
    const query =
      typeof variable.query === 'string' ? variable.query : (variable.query as { query?: string })?.query
    if (query) queries.push({ where: `variable $${variable.name}`, expr: query })
  }
  return queries
}

/**
 * The `expr:` of every rule in a Prometheus rules file, inline or as a block scalar (`expr: |`).
 * Enough YAML for rules files as they are written by hand; no YAML library needed.
 */
export function ruleExpressions(yaml: string): { where: string; expr: string }[] {
  const lines = yaml.split('\n')
  const found: { where: string; expr: string }[] = []
  let rule = '?'
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string
    const named = /^\s*-?\s*(?:alert|record):\s*(\S+)/.exec(line)
    if (named) rule = named[1] as string
    const expr = /^(\s*)expr:\s*(.*)$/.exec(line)
    if (!expr) continue
    const [, indent, inline] = expr as unknown as [string, string, string]
    if (!/^[|>][-+]?\s*$/.test(inline)) {
      found.push({ where: `rule ${rule}`, expr: inline.replace(/^(['"])(.*)\1$/, '$2') })
      continue
    }
    const block: string[] = []
    while (index + 1 < lines.length) {
      const next = lines[index + 1] as string
      if (next.trim() !== '' && next.search(/\S/) <= indent.length) break
      block.push(next)
      index++
    }
    found.push({ where: `rule ${rule}`, expr: block.join('\n') })
  }
  return found
}

/** Metric families declared in a Prometheus text scrape (`# TYPE name type`). */
export function scrapedFamilies(text: string): Map<string, string> {
  return new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name as string, type as string]),
  )
}

/** Whether `name` is a series of one of `families`: the family itself, or a histogram's or summary's part. */
export function isExported(name: string, families: ReadonlyMap<string, string>): boolean {
  if (families.has(name)) return true
  const part = /^(.*)_(bucket|sum|count)$/.exec(name)
  if (!part) return false
  const type = families.get(part[1] as string)
  return type === 'histogram' || (type === 'summary' && part[2] !== 'bucket')
}

/** The families the app registers: an app built in process, its /metrics read with the API token. */
export async function appFamilies(): Promise<Map<string, string>> {
  const [{ createApp }, { loadEnv }, { createRedisClient }, { standaloneTopology }] = await Promise.all([
    import('../src/app.js'),
    import('../src/env.js'),
    import('../src/redis/client.js'),
    import('../src/redis/standalone.js'),
  ])
  const token = 'check-dashboard-token-0123456789abcdefghij'
  const env = loadEnv({
    REDIS_URL: 'redis://127.0.0.1:1',
    SESSION_SECRET: token,
    API_TOKEN: token,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  })
  // Never connected: the app is only built and scraped.
  const app = createApp(
    env,
    createRedisClient(standaloneTopology(createClient({ url: env.redisUrl })), env.redisCommandTimeoutMs),
  )
  try {
    const res = await app.request('/metrics', { headers: { Authorization: `Bearer ${token}` } })
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
    return scrapedFamilies(await res.text())
  } finally {
    await app.lifecycle.close()
  }
}

export interface UnknownMetric {
  where: string
  name: string
}

/** The names that `queries` use and `families` do not declare. */
export function unknownMetrics(
  queries: readonly { where: string; expr: string }[],
  families: ReadonlyMap<string, string>,
): UnknownMetric[] {
  return queries.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((name) => !isExported(name, families))
      .map((name) => ({ where, name })),
  )
}

async function main() {
  const { values } = parseArgs({
    options: {
      metrics: { type: 'string' },
      dashboard: { type: 'string', default: resolve(ROOT, 'ops/grafana-dashboard.json') },
      alerts: { type: 'string', default: resolve(ROOT, 'ops/alerts.yml') },
    },
  })
  const families = values.metrics
    ? scrapedFamilies(readFileSync(values.metrics, 'utf8'))
    : await appFamilies()
  const queries = [
    ...dashboardQueries(JSON.parse(readFileSync(values.dashboard, 'utf8'))),
    ...ruleExpressions(readFileSync(values.alerts, 'utf8')),
  ]
  const unknown = unknownMetrics(queries, families)
  for (const { where, name } of unknown) process.stderr.write(`unknown metric ${name} in ${where}\n`)
  const used = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)))
  process.stdout.write(
    `${queries.length} queries, ${used.size} metric names, checked against ${families.size} exported families: ` +
      `${unknown.length === 0 ? 'all known' : `${unknown.length} unknown`}\n`,
  )
  process.exitCode = unknown.length === 0 ? 0 : 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main()
