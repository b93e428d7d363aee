// What a run collects as it goes: result rows, checks, skipped suites and errors. A failing step is
// recorded and the run goes on; the command exits non-zero when any error was recorded.
import type { ResultRow } from './report.js'

export class RunLog {
  readonly results: ResultRow[] = []
  readonly checks: string[] = []
  readonly skipped: string[] = []
  readonly errors: string[] = []

  constructor(readonly log: (msg: string) => void) {}

  /** Runs one step; a failure is recorded (and logged) and undefined returned. */
  async step<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn()
    } catch (err) {
      this.error(`${what}: ${(err as Error).message}`)
      return undefined
    }
  }

  error(msg: string): void {
    this.log(`ERROR ${msg}`)
    this.errors.push(msg)
  }

  record(r: ResultRow | undefined): void {
    if (!r) return
    this.results.push(r)
    this.log(
      `  ${r.suite} ${r.target} ${r.case}: ${r.baselineName} ${Math.round(r.baseline.throughput)} ${r.unit}, ` +
        `${r.projectName} ${Math.round(r.project.throughput)} ${r.unit}, ratio ${r.ratio.toFixed(2)}×`,
    )
  }

  /** The message_count check after a turn suite: a wrong count is an error of the run. */
  countCheck(where: string, r: { sessions: number; wrong: number } | undefined): void {
    if (!r) return
    this.checks.push(
      `message_count exact on ${r.sessions - r.wrong} of ${r.sessions} bench sessions (${where})`,
    )
    if (r.wrong)
      this.error(`${r.wrong} sessions (${where}) have a message_count that differs from their stored turns`)
  }
}
