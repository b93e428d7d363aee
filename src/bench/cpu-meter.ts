// CPU time per operation, beside throughput. On a machine shared with other work, a side's throughput
// follows the CPU share the scheduler gives it (one busy backend gets less than ten), so a ratio of
// throughputs can say more about the machine than about the code. CPU time spent per operation barely
// moves with the load: it is the measure of the work each side does. Server CPU is read from /proc for
// the backends connected to the bench database (Linux, server on this machine); the client's is this
// process's (process.cpuUsage: every thread, so the garbage collector too). Each round of a
// comparison is also kept, so a case reports the median of its rounds' ratios beside the pooled ratio.
import { readFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import type { DbPool } from '../db/pool.js'
import type { RunResult, Side } from './load.js'

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100

/** CPU microseconds spent per operation on each side of the wire; undefined where not readable. */
export interface CpuPerOp {
  serverUs?: number
  clientUs: number
  /**
   * Cores the side kept busy while measured (server and client CPU over wall time): on a machine
   * whose cores are all taken, its share of them, which bounds its throughput whatever its work per op.
   */
  cores?: number
  /** The machine's 1-minute load average at the end of its rounds (mean). */
  load?: number
}

/** utime + stime of one process in microseconds; undefined when gone or not on this machine. */
async function processCpuUs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1e6) / USER_HZ
  } catch {
    return undefined
  }
}

/** CPU time by pid of every backend connected to the owner pool's database, or undefined. */
async function serverCpuUs(owner: DbPool): Promise<Map<number, number> | undefined> {
  const { rows } = await owner.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  )
  const byPid = new Map<number, number>()
  for (const { pid } of rows) {
    const us = await processCpuUs(pid)
    if (us !== undefined) byPid.set(pid, us)
  }
  return byPid.size > 0 ? byPid : undefined
}

/** CPU used between two readings: backends gone in between are lost, new ones count from zero. */
function serverDelta(before: Map<number, number>, after: Map<number, number>): number {
  let us = 0
  for (const [pid, t] of after) us += t - (before.get(pid) ?? 0)
  return us
}

/** One side of a comparison, measured: ops, elapsed time and CPU per measured round. */
export class MeteredSide implements Side {
  readonly rounds: Array<{
    ops: number
    elapsedMs: number
    serverUs?: number
    clientUs: number
    load: number
  }> = []

  constructor(
    private readonly inner: Side,
    /** A pool on the bench database (its backends are the ones counted). */
    private readonly owner: DbPool,
  ) {}

  get perOp(): number | undefined {
    return this.inner.perOp
  }

  async run(durationMs: number, round: number): Promise<RunResult> {
    if (round < 0) return this.inner.run(durationMs, round) // warm-up: not measured
    const s0 = await serverCpuUs(this.owner).catch(() => undefined)
    const c0 = process.cpuUsage()
    const r = await this.inner.run(durationMs, round)
    const c = process.cpuUsage(c0)
    const s1 = s0 && (await serverCpuUs(this.owner).catch(() => undefined))
    this.rounds.push({
      ops: r.latencies.length * (this.inner.perOp ?? 1),
      elapsedMs: r.elapsedMs,
      serverUs: s0 && s1 ? serverDelta(s0, s1) : undefined,
      clientUs: c.user + c.system,
      load: loadavg()[0] ?? 0,
    })
    return r
  }

  /** CPU per operation (row) over every measured round. */
  cpuPerOp(): CpuPerOp | undefined {
    const ops = this.rounds.reduce((n, r) => n + r.ops, 0)
    if (ops === 0) return undefined
    const server = this.rounds.every((r) => r.serverUs !== undefined)
      ? this.rounds.reduce((n, r) => n + (r.serverUs ?? 0), 0) / ops
      : undefined
    const clientUs = this.rounds.reduce((n, r) => n + r.clientUs, 0) / ops
    const elapsedUs = this.rounds.reduce((n, r) => n + r.elapsedMs, 0) * 1000
    return {
      serverUs: server,
      clientUs,
      cores: server === undefined || elapsedUs <= 0 ? undefined : ((server + clientUs) * ops) / elapsedUs,
      load: this.rounds.reduce((n, r) => n + r.load, 0) / this.rounds.length,
    }
  }

  throughputs(): number[] {
    return this.rounds.map((r) => (r.elapsedMs > 0 ? (r.ops * 1000) / r.elapsedMs : 0))
  }
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** What a metered comparison adds to its result row. */
export interface Metered {
  /** Median over rounds of (project throughput / baseline throughput) in the same round. */
  medianRatio: number
  roundRatios: number[]
  cpu?: { baseline?: CpuPerOp; project?: CpuPerOp }
}

export function metered(baseline: MeteredSide, project: MeteredSide): Metered {
  const b = baseline.throughputs()
  const p = project.throughputs()
  const roundRatios = p.map((x, i) => ((b[i] ?? 0) > 0 ? x / (b[i] as number) : Number.NaN))
  return {
    medianRatio: median(roundRatios.filter(Number.isFinite)),
    roundRatios,
    cpu: { baseline: baseline.cpuPerOp(), project: project.cpuPerOp() },
  }
}

const us = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US')

const cores = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(2))

/** CPU time per operation of both sides: baseline total / project total (above 1: the project does less). */
export function workRatio(cpu: Metered['cpu']): number | undefined {
  const b = cpu?.baseline
  const p = cpu?.project
  if (b?.serverUs === undefined || p?.serverUs === undefined) return undefined
  return (b.serverUs + b.clientUs) / (p.serverUs + p.clientUs)
}

/** The report's section for metered cases: rounds' median ratio and CPU per operation. */
export function cpuMarkdown(
  rows: Array<Partial<Metered> & { case: string; target: string; ratio: number; unit: string }>,
): string[] {
  if (rows.length === 0) return []
  return [
    '',
    '## CPU time per operation (metered cases)',
    '',
    'Ratio of the rounds: the median over rounds of project / baseline throughput in the same round. CPU per',
    'operation in µs: the server backends of the bench database (from /proc) and this Node.js process; the',
    'work ratio is the baseline total over the project total (above 1: the project spends less CPU per',
    'operation), which the machine load moves far less than throughput. Cores: the CPU each side kept busy',
    "(server and client CPU over wall time) out of the machine's; load: the 1-minute load average after its",
    'rounds. On a machine whose cores are all taken, a side runs as fast as its share of them allows.',
    '',
    '| backend | case | ratio (pooled) | ratio (median of rounds) | server µs baseline → project | client µs baseline → project | work ratio | cores baseline → project | load |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const w = workRatio(r.cpu)
      return (
        `| ${r.target} | ${r.case} | ${r.ratio.toFixed(2)}× | ${r.medianRatio?.toFixed(2) ?? '-'}× | ` +
        `${us(r.cpu?.baseline?.serverUs)} → ${us(r.cpu?.project?.serverUs)} | ` +
        `${us(r.cpu?.baseline?.clientUs)} → ${us(r.cpu?.project?.clientUs)} | ${w === undefined ? '-' : `${w.toFixed(2)}×`} | ` +
        `${cores(r.cpu?.baseline?.cores)} → ${cores(r.cpu?.project?.cores)} | ${cores(r.cpu?.project?.load)} |`
      )
    }),
  ]
}
