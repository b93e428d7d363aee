// A DDSketch-style duration sketch: log buckets whose width keeps every quantile within a relative
// error ALPHA of the exact value. Sketches merge by adding counts bucket by bucket, so the rollup of a
// month is the sum of its hours without touching raw rows. The bucket of a duration is computed in SQL
// (robot_brain.sketch_index, migration 0006) with the same constants; this file reads sketches back.

/**
 * Relative accuracy. 0.95% rather than 1%, so floating point at bucket edges can never push an
 * estimate past the 1% the API promises.
 */
export const ALPHA = 0.0095
export const GAMMA = (1 + ALPHA) / (1 - ALPHA)
/** The bucket of durations of 0 ms (the log of 0 is undefined). */
export const ZERO_INDEX = -1

/** Bucket index → number of durations in it. Keys are strings, as jsonb stores them. */
export type Sketch = Record<string, number>

/** The bucket of a duration (same formula as robot_brain.sketch_index). */
export function sketchIndex(ms: number): number {
  return ms <= 0 ? ZERO_INDEX : Math.ceil(Math.log(ms) / Math.log(GAMMA))
}

/** The value a bucket stands for: within ALPHA of every value in (GAMMA^(i-1), GAMMA^i]. */
export function bucketValue(index: number): number {
  return index === ZERO_INDEX ? 0 : (2 * GAMMA ** index) / (GAMMA + 1)
}

export function mergeInto(target: Sketch, source: Sketch): Sketch {
  for (const [k, n] of Object.entries(source)) target[k] = (target[k] ?? 0) + Number(n)
  return target
}

/**
 * The q-quantile by nearest rank: the value of rank ceil(q·n) (1-based), the same as SQL's
 * percentile_disc(q). Clamped to the exact maximum, which the rollups keep. null for an empty sketch.
 */
export function quantile(sketch: Sketch, q: number, max: number): number | null {
  const buckets = Object.entries(sketch)
    .map(([k, n]) => [Number(k), Number(n)] as const)
    .sort((a, b) => a[0] - b[0])
  const total = buckets.reduce((s, [, n]) => s + n, 0)
  if (total === 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (const [index, n] of buckets) {
    seen += n
    if (seen >= rank) return Math.min(bucketValue(index), max)
  }
  return max
}
