import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  appFamilies,
  dashboardQueries,
  metricNamesIn,
  ruleExpressions,
  unknownMetrics,
} from '../../scripts/check-dashboard.js'
import { PROMTOOL_MISSING, promtool, promtoolVersion } from '../support/promtool.js'

/** ops/: the alert rules pass promtool and their unit tests; the dashboard and the rules name real metrics. */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8')
const families = await appFamilies()

describe('ops/alerts.yml', () => {
  it(`passes promtool check rules${PROMTOOL_MISSING}`, ({ skip }) => {
    if (!promtoolVersion) skip(PROMTOOL_MISSING)
    const run = promtool(['check', 'rules', resolve(ROOT, 'ops/alerts.yml')])
    expect(run.status, run.output).toBe(0)
  })

  it(`passes its unit tests, promtool test rules ops/alerts.test.yml${PROMTOOL_MISSING}`, ({ skip }) => {
    if (!promtoolVersion) skip(PROMTOOL_MISSING)
    const run = promtool(['test', 'rules', resolve(ROOT, 'ops/alerts.test.yml')])
    expect(run.status, run.output).toBe(0)
  })

  it('has a unit test for every alert, and the alerts the issue asks for', () => {
    const alerts = [...read('ops/alerts.yml').matchAll(/^\s*- alert: (\S+)$/gm)].map(([, name]) => name)
    const tested = new Set(
      [...read('ops/alerts.test.yml').matchAll(/alertname: (\S+)$/gm)].map(([, name]) => name),
    )
    expect(alerts.filter((alert) => !tested.has(alert))).toEqual([])
    expect(alerts).toEqual([
      'HrsRedisDown',
      'HrsNotReady',
      'HrsDeliveryLagHigh',
      'HrsSlowClientDisconnects',
      'HrsSseResets',
      'HrsHigh5xxRatio',
    ])
  })

  it('uses only metrics the service exports', () => {
    expect(unknownMetrics(ruleExpressions(read('ops/alerts.yml')), families)).toEqual([])
  })
})

describe('ops/grafana-dashboard.json (scripts/check-dashboard.ts)', () => {
  const queries = dashboardQueries(JSON.parse(read('ops/grafana-dashboard.json')))

  it('uses only metrics the service exports, in every panel and variable', () => {
    expect(queries.length).toBeGreaterThan(20)
    expect(unknownMetrics(queries, families)).toEqual([])
  })

  it('shows every hrs_ metric', () => {
    const used = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)))
    const shown = (family: string) =>
      used.has(family) || ['bucket', 'sum', 'count'].some((part) => used.has(`${family}_${part}`))
    const own = [...families.keys()].filter((name) => name.startsWith('hrs_'))
    expect(own.filter((family) => !shown(family))).toEqual([])
  })

  it('finds a name that is not exported, and reads names out of PromQL and Grafana queries', () => {
    const broken = [
      {
        where: 'panel "x" A',
        expr: 'sum by (job) (rate(hrs_sse_event_sent_total{job="$job"}[$__rate_interval]))',
      },
    ]
    expect(unknownMetrics(broken, families)).toEqual([
      { where: 'panel "x" A', name: 'hrs_sse_event_sent_total' },
    ])
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y z"}[5m] offset 1h))) / on (job) group_left (x) b > 1e3 and label_values(c, job)',
      ),
    ).toEqual(['a_bucket', 'b', 'c'])
  })
})

describe('README, "Metrics"', () => {
  it('describes every hrs_ metric the service exports', () => {
    const readme = read('README.md')
    const own = [...families.keys()].filter((name) => name.startsWith('hrs_'))
    expect(own.length).toBeGreaterThan(15)
    expect(own.filter((family) => !readme.includes(`\`${family}\``))).toEqual([])
  })
})
