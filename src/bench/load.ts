// Closed-loop load: `concurrency` workers each run `op` back to back until the time is up.
// Baseline and project are measured in alternating rounds of the same length (ABBA order), so a
// disturbance of the machine (another process, a checkpoint) weighs on both sides alike.
import { performance } from 'node:perf_hooks'
import { Samples, type Summary } from './stats.js'

export type Op = (worker: number, seq: number) => Promise<unknown>

export interface RunResult {
  latencies: number[]
  elapsedMs: number
}

export async function runClosedLoop(concurrency: number, durationMs: number, op: Op): Promise<RunResult> {
  const latencies: number[] = []
  const start = performance.now()
  const end = start + durationMs
  const worker = async (w: number) => {
    for (let seq = 0; performance.now() < end; seq++) {
      const t = performance.now()
      await op(w, seq)
      latencies.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  return { latencies, elapsedMs: performance.now() - start }
}

export interface Side {
  /** Runs the load for `durationMs` (usually runClosedLoop over an op). */
  run(durationMs: number, round: number): Promise<RunResult>
  /** Rows per op (turns, events), for throughput in rows/s. */
  perOp?: number
}

export interface Comparison {
  baseline: Summary
  project: Summary
  /** project throughput / baseline throughput. */
  ratio: number
}

export interface CompareOptions {
  rounds: number
  durationMs: number
  warmupMs: number
}

export async function compare(
  baseline: Side,
  project: Side,
  { rounds, durationMs, warmupMs }: CompareOptions,
): Promise<Comparison> {
  if (warmupMs > 0) {
    await baseline.run(warmupMs, -1)
    await project.run(warmupMs, -1)
  }
  const b = new Samples()
  const p = new Samples()
  for (let round = 0; round < rounds; round++) {
    // ABBA: the side that goes first alternates, so neither always runs on a warmer or colder machine.
    const order: Array<[Side, Samples]> =
      round % 2 === 0
        ? [
            [baseline, b],
            [project, p],
          ]
        : [
            [project, p],
            [baseline, b],
          ]
    for (const [side, samples] of order) {
      const r = await side.run(durationMs, round)
      samples.add(r.latencies, r.elapsedMs)
    }
  }
  const bs = b.summary(baseline.perOp)
  const ps = p.summary(project.perOp)
  return { baseline: bs, project: ps, ratio: bs.throughput > 0 ? ps.throughput / bs.throughput : Number.NaN }
}
