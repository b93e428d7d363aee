// Where and on what a run measured: the commit and the machine, for the report.
import { execFileSync } from 'node:child_process'
import { cpus, release, totalmem, type } from 'node:os'

export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return 'unknown'
  }
}

export function machine(): string {
  const c = cpus()
  return `${c[0]?.model.trim() ?? 'unknown CPU'} × ${c.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${type()} ${release()}`
}
