// The bench's arithmetic: percentiles, throughput, and the alternating order of compare().
import { describe, expect, it } from 'vitest'
import { compare, runClosedLoop } from '../../src/bench/load.js'
import { evaluateTargets, markdown, type Report, type ResultRow } from '../../src/bench/report.js'
import { quantile, summarize } from '../../src/bench/stats.js'

describe('percentiles and throughput', () => {
  it('takes nearest-rank quantiles of sorted samples', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1)
    expect(quantile(sorted, 0.5)).toBe(50)
    expect(quantile(sorted, 0.99)).toBe(99)
    expect(quantile(sorted, 1)).toBe(100)
    expect(quantile([], 0.5)).toBeNaN()
  })

  it('counts rows per second over the elapsed time, and sorts unsorted samples', () => {
    const s = summarize([5, 1, 3, 2, 4], 500, 10)
    expect(s.ops).toBe(5)
    expect(s.throughput).toBe(100) // 5 ops × 10 rows in 0.5 s
    expect(s.p50Ms).toBe(3)
    expect(s.maxMs).toBe(5)
  })
})

describe('closed loop and compare', () => {
  it('runs every worker until the time is up and records one latency per op', async () => {
    const seen = new Set<number>()
    const r = await runClosedLoop(3, 60, async (w) => {
      seen.add(w)
      await new Promise((res) => setTimeout(res, 5))
    })
    expect([...seen].sort()).toEqual([0, 1, 2])
    expect(r.latencies.length).toBeGreaterThanOrEqual(3)
    expect(r.elapsedMs).toBeGreaterThanOrEqual(60)
    for (const l of r.latencies) expect(l).toBeGreaterThanOrEqual(4)
  })

  it('alternates which side goes first (ABBA) and divides project by baseline', async () => {
    const order: string[] = []
    const side = (name: string, ops: number) => ({
      run: async (ms: number, round: number) => {
        if (round >= 0) order.push(name)
        return { latencies: Array.from({ length: ops }, () => 1), elapsedMs: ms }
      },
    })
    const cmp = await compare(side('b', 10), side('p', 30), { rounds: 4, durationMs: 100, warmupMs: 10 })
    expect(order).toEqual(['b', 'p', 'p', 'b', 'b', 'p', 'p', 'b'])
    expect(cmp.baseline.throughput).toBe(100) // 40 ops in 400 ms
    expect(cmp.project.throughput).toBe(300)
    expect(cmp.ratio).toBe(3)
  })
})

describe('targets and the Markdown report', () => {
  const summary = (throughput: number, p99Ms = 2) => ({
    ops: 1,
    perOp: 1,
    elapsedMs: 1000,
    throughput,
    p50Ms: 1,
    p95Ms: p99Ms,
    p99Ms,
    maxMs: p99Ms,
  })
  const row = (key: string, b: number, p: number, extra: Partial<ResultRow> = {}): ResultRow => ({
    suite: key.split('.')[0] as ResultRow['suite'],
    target: 'pg',
    case: key,
    key,
    unit: 'ops/s',
    baselineName: 'base',
    projectName: 'proj',
    baseline: summary(b),
    project: summary(p),
    ratio: p / b,
    ...extra,
  })

  it('says which targets are met and by how much one is missed', () => {
    const results = [
      row('turns.pg.8.distinct', 100, 200),
      row('turns.pg.64.distinct', 100, 300),
      row('history.pg.100000', 100, 95, { storedTurns: 100_000, project: summary(95, 2) }),
      row('history.pg.10000000', 100, 92, { storedTurns: 10_000_000, project: summary(92, 4) }),
      row('interactions.pg.1000', 100, 90),
    ]
    const t = evaluateTargets(results)
    expect(t).toHaveLength(5)
    expect(t.find((c) => c.name.startsWith('recordTurn vs naive'))?.met).toBe(true)
    const gc = t.find((c) => c.name.includes('group commit'))
    expect(gc?.met).toBe(false)
    expect(gc?.note).toBe('missed by 50% (3.00× of 6×)')
    expect(t.find((c) => c.name.startsWith('history vs raw'))?.met).toBe(true)
    const growth = t.find((c) => c.name.startsWith('history p99 growth'))
    expect(growth?.measured).toMatch(/^2\.00×/)
    expect(growth?.met).toBe(false)
    expect(t.find((c) => c.name.startsWith('recordInteractions'))?.met).toBe(true)

    const report: Report = {
      info: {
        mode: 'quick',
        startedAt: '2026-01-01T00:00:00.000Z',
        durationS: 1,
        command: 'npm run bench -- --quick',
        commit: 'abc1234',
        machine: 'test',
        node: 'v20',
        postgres: '15',
        settings: {},
      },
      targets: t,
      results,
      checks: [],
      skipped: ['http skipped'],
      errors: [],
    }
    const md = markdown(report)
    expect(md).toContain(
      '| turns | PostgreSQL direct (pg) | turns.pg.8.distinct | base | proj | 100 | 200 | 2.00× |',
    )
    expect(md).toContain('no: missed by 50% (3.00× of 6×)')
    expect(md).toContain('## Skipped')
  })

  it('reports a target it could not measure as n/a', () => {
    const t = evaluateTargets([])
    expect(t.every((c) => c.met === null)).toBe(true)
  })
})
