import { appendFileSync } from 'node:fs'

/**
 * One figure of a benchmark, for the table `npm run bench` prints (bench/all.ts): ours, the baseline it is
 * compared with in the same run, their ratio, and the target when the issue names one.
 */
export interface Figure {
  benchmark: string
  figure: string
  unit: string
  ours: number
  baseline?: { name: string; value: number }
  /** ours / baseline, when the comparison means something. */
  ratio?: number
  target?: string
  pass?: boolean
}

/**
 * Hands the benchmark's figures to bench/all.ts when it runs this benchmark (it sets BENCH_RESULT_FILE);
 * a benchmark run on its own prints its usual lines and nothing more.
 */
export function reportFigures(figures: Figure[]): void {
  const file = process.env.BENCH_RESULT_FILE
  if (!file) return
  for (const figure of figures) appendFileSync(file, `${JSON.stringify(figure)}\n`)
}
