// The run's results: one row per measured case, the targets of the issue evaluated on PostgreSQL
// direct, written as JSON (for tools) and a Markdown table (for people and the README).
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cpuMarkdown, type Metered } from './cpu-meter.js'
import type { Comparison } from './load.js'
import type { Summary } from './stats.js'
import { type LifecycleRow, lifecycleMarkdown } from './suite-lifecycle.js'
import { type SearchReport, searchMarkdown } from './suite-search.js'
import { TARGET_LABELS, type TargetName } from './targets.js'

export interface ResultRow extends Comparison, Partial<Metered> {
  suite: 'turns' | 'history' | 'interactions' | 'http' | 'partitions' | 'search' | 'analytics' | 'encryption'
  target: TargetName
  case: string
  /** Stable id of the case, e.g. turns.pg.8.distinct. */
  key: string
  unit: string
  baselineName: string
  projectName: string
  storedTurns?: number
  /** Monthly partitions of conversations when measured (suite partitions). */
  partitions?: number
}

export interface TargetCheck {
  name: string
  goal: string
  measured: string
  met: boolean | null
  note: string
}

export interface RunInfo {
  mode: 'quick' | 'full'
  startedAt: string
  durationS: number
  command: string
  commit: string
  machine: string
  node: string
  postgres: string
  settings: Record<string, unknown>
}

export interface Report {
  info: RunInfo
  targets: TargetCheck[]
  results: ResultRow[]
  checks: string[]
  skipped: string[]
  errors: string[]
  /** The search suite's quality, speed and ingest figures, when it ran. */
  search?: SearchReport
  /** The lifecycle suite's commands: rows/s and peak RSS, when it ran. */
  lifecycle?: LifecycleRow[]
}

const byKey = (results: ResultRow[], key: string) => results.find((r) => r.key === key)

function ratioTarget(name: string, row: ResultRow | undefined, goal: number): TargetCheck {
  if (!row) return { name, goal: `≥ ${goal}×`, measured: 'not measured', met: null, note: '' }
  const met = row.ratio >= goal
  return {
    name,
    goal: `≥ ${goal}×`,
    measured: `${row.ratio.toFixed(2)}×`,
    met,
    note: met
      ? ''
      : `missed by ${((1 - row.ratio / goal) * 100).toFixed(0)}% (${row.ratio.toFixed(2)}× of ${goal}×)`,
  }
}

/** The issue's targets, read from the PostgreSQL-direct rows. */
export function evaluateTargets(results: ResultRow[]): TargetCheck[] {
  const checks = [
    ratioTarget(
      'recordTurn vs naive, 8 writers (distinct sessions)',
      byKey(results, 'turns.pg.8.distinct'),
      1.5,
    ),
    ratioTarget(
      'recordTurn (group commit) vs naive, 64 writers (distinct sessions)',
      byKey(results, 'turns.pg.64.distinct'),
      6,
    ),
  ]
  const history = results.filter((r) => r.suite === 'history' && r.target === 'pg')
  if (history.length > 0) {
    const worst = history.reduce((a, b) => (b.ratio < a.ratio ? b : a))
    checks.push({
      ...ratioTarget('history vs raw query (worst size)', worst, 0.9),
      name: `history vs raw query (worst: ${worst.case})`,
    })
    const sorted = [...history].sort((a, b) => (a.storedTurns ?? 0) - (b.storedTurns ?? 0))
    const small = sorted[0] as ResultRow
    const large = sorted[sorted.length - 1] as ResultRow
    if (large !== small) {
      const growth = large.project.p99Ms / small.project.p99Ms
      checks.push({
        name: `history p99 growth, ${small.storedTurns?.toLocaleString('en-US')} → ${large.storedTurns?.toLocaleString('en-US')} turns`,
        goal: '≤ 1.5×',
        measured: `${growth.toFixed(2)}× (${small.project.p99Ms.toFixed(2)} → ${large.project.p99Ms.toFixed(2)} ms)`,
        met: growth <= 1.5,
        note: growth <= 1.5 ? '' : `over by ${((growth / 1.5 - 1) * 100).toFixed(0)}%`,
      })
    }
  } else {
    checks.push({
      name: 'history vs raw query',
      goal: '≥ 0.9×',
      measured: 'not measured',
      met: null,
      note: '',
    })
  }
  checks.push(
    ratioTarget('recordInteractions vs COPY, 1k batches', byKey(results, 'interactions.pg.1000'), 0.8),
  )
  return checks
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-')
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-')
const lat = (s: Summary) => `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`

export function markdown(report: Report): string {
  const { info } = report
  const lines = [
    `# Benchmark results (${info.mode} run)`,
    '',
    `- started ${info.startedAt}, took ${Math.round(info.durationS)} s; commit ${info.commit}`,
    `- machine: ${info.machine}; Node.js ${info.node}; PostgreSQL ${info.postgres}`,
    `- reproduce: \`${info.command}\``,
    `- settings: ${Object.entries(info.settings)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ')}`,
    '',
    'Ratio = project throughput / baseline throughput, both measured in the same run in alternating rounds.',
    'Latencies are per operation (a batch for interactions), p50 / p99 in milliseconds.',
    '',
    '## Targets (PostgreSQL direct)',
    '',
    '| target | goal | measured | met |',
    '|---|---|---|---|',
    ...report.targets.map(
      (t) =>
        `| ${t.name} | ${t.goal} | ${t.measured} | ${t.met === null ? 'n/a' : t.met ? 'yes' : `no: ${t.note}`} |`,
    ),
    '',
    '## Results',
    '',
    '| suite | backend | case | baseline | project | baseline /s | project /s | ratio | baseline p50 / p99 ms | project p50 / p99 ms |',
    '|---|---|---|---|---|---:|---:|---:|---:|---:|',
    ...report.results.map(
      (r) =>
        `| ${r.suite} | ${TARGET_LABELS[r.target]} | ${r.case} | ${r.baselineName} | ${r.projectName} | ` +
        `${int(r.baseline.throughput)} | ${int(r.project.throughput)} | ${r.ratio.toFixed(2)}× | ` +
        `${lat(r.baseline)} | ${lat(r.project)} |`,
    ),
  ]
  const analytics = report.results.filter((r) => r.suite === 'analytics')
  if (analytics.length) {
    lines.push(
      '',
      '## Analytics (rollups against raw rows, PostgreSQL direct)',
      '',
      '| case | rollups p50 / p95 ms | raw rows p50 / p95 ms | faster (p50) |',
      '|---|---:|---:|---:|',
      ...analytics.map(
        (r) =>
          `| ${r.case} | ${ms(r.project.p50Ms)} / ${ms(r.project.p95Ms)} | ${ms(r.baseline.p50Ms)} / ${ms(r.baseline.p95Ms)} | ` +
          `${r.key.startsWith('analytics.ingest') ? `${r.ratio.toFixed(2)}× (events/s)` : `${(r.baseline.p50Ms / r.project.p50Ms).toFixed(1)}×`} |`,
      ),
    )
  }
  lines.push(...cpuMarkdown(report.results.filter((r) => r.cpu)))
  if (report.search) lines.push(...searchMarkdown(report.search))
  if (report.lifecycle) lines.push(...lifecycleMarkdown(report.lifecycle))
  if (report.checks.length) lines.push('', '## Checks', '', ...report.checks.map((c) => `- ${c}`))
  if (report.skipped.length) lines.push('', '## Skipped', '', ...report.skipped.map((s) => `- ${s}`))
  if (report.errors.length) lines.push('', '## Errors', '', ...report.errors.map((e) => `- ${e}`))
  return `${lines.join('\n')}\n`
}

/** Writes latest.{json,md} and <mode>.{json,md}, so a quick run does not replace the last full one. */
export async function writeReport(dir: string, report: Report): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const json = `${JSON.stringify(report, null, 2)}\n`
  const md = markdown(report)
  const files: string[] = []
  for (const base of ['latest', report.info.mode]) {
    files.push(join(dir, `${base}.json`), join(dir, `${base}.md`))
    await writeFile(join(dir, `${base}.json`), json)
    await writeFile(join(dir, `${base}.md`), md)
  }
  return files
}
