/**
 * Observations counted into fixed buckets: what a Prometheus histogram holds, as plain numbers. An
 * observation is a short scan of the bounds and three additions, with no label hashing and no
 * allocation, so hot paths can afford one (doc/architecture.md, "Hot path"); the metrics registry reads
 * the counts when it is scraped (src/process/metrics.ts).
 *
 * @example
 * ```ts
 * const lag = new BucketHistogram([0.001, 0.01, 0.1, 1])
 * lag.observe(0.004) // counted in the 0.01 bucket
 * ```
 */
export class BucketHistogram {
  /** Observations per bucket, not cumulative: `counts[i]` for values up to `bounds[i]`; the last is +Inf. */
  readonly counts: number[]
  sum = 0
  count = 0

  /** `bounds`: the buckets' upper bounds (inclusive), in increasing order. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    const { bounds, counts } = this
    let bucket = 0
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++
    counts[bucket] = (counts[bucket] as number) + 1
    this.sum += value
    this.count++
  }
}
