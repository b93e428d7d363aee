// Latency and throughput figures of one measured run. Percentiles come from the sorted samples
// (exact, and a run holds at most a few hundred thousand of them).

export interface Summary {
  /** Operations completed (one op may carry many rows: see `perOp`). */
  ops: number
  /** Rows per operation (turns, events): throughput counts rows. */
  perOp: number
  elapsedMs: number
  /** Rows per second. */
  throughput: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  maxMs: number
}

/** The q-quantile (0..1) of ascending samples, nearest-rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] as number
}

export function summarize(latencies: number[], elapsedMs: number, perOp = 1): Summary {
  const sorted = Float64Array.from(latencies).sort()
  const ops = sorted.length
  return {
    ops,
    perOp,
    elapsedMs,
    throughput: elapsedMs > 0 ? (ops * perOp * 1000) / elapsedMs : 0,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    p99Ms: quantile(sorted, 0.99),
    maxMs: ops ? (sorted[ops - 1] as number) : Number.NaN,
  }
}

/** Pools runs of the same side: throughput over the summed time, percentiles over all samples. */
export class Samples {
  private readonly latencies: number[] = []
  private elapsedMs = 0

  add(latencies: number[], elapsedMs: number): void {
    for (const l of latencies) this.latencies.push(l)
    this.elapsedMs += elapsedMs
  }

  summary(perOp = 1): Summary {
    return summarize(this.latencies, this.elapsedMs, perOp)
  }
}
