// Runs the real command line (bin/robot-brain-db.js over dist/) against a fresh database of the
// backend chosen by ROBOT_BRAIN_TEST_BACKEND, and reads what it wrote back as the owner.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { openStore } from '../../src/store/store.js'
import { backendName, type FreshDatabase, rawPg } from '../support/backend.js'
import { ROOT } from '../support/build.mjs'

export const backend = backendName()
export { ensureBuilt, ROOT } from '../support/build.mjs'

const BIN = join(ROOT, 'bin/robot-brain-db.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** The environment the CLI sees: ours without any database setting, plus `extra`. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(DATABASE_|NEON_|ROBOT_BRAIN_|PG[A-Z]+$)/.test(k)) env[k] = v
  }
  return { ...env, ...extra }
}

/** The variables that point the CLI at `db` the way a user would (optionally with another app URL). */
export function dbEnv(db: FreshDatabase, appUrl = db.appUrl): Record<string, string> {
  if (backend === 'pglite') return { ROBOT_BRAIN_DATA_DIR: db.dataDir as string }
  const env: Record<string, string> = { DATABASE_URL: appUrl, DATABASE_URL_UNPOOLED: db.ownerUrl }
  if (db.driver === 'neon' && db.neon) {
    env.DATABASE_DRIVER = 'neon'
    env.NEON_WS_PROXY = db.neon.wsProxy
    env.NEON_WS_SECURE = 'false'
  }
  return env
}

export function cli(args: string[], env: Record<string, string>, timeout = 300_000): Promise<CliResult> {
  return run(process.execPath, [BIN, ...args], cliEnv(env), timeout)
}

/** Parses the CLI's JSON output, failing with its stderr when it printed none. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** Runs queries as the owner on `db` after the CLI exited (PGlite allows one process at a time). */
export async function ownerQuery<R = Record<string, unknown>>(
  db: FreshDatabase,
  queries: string[],
): Promise<R[][]> {
  if (backend === 'pglite') {
    const store = await openStore({ dataDir: db.dataDir })
    try {
      const out: R[][] = []
      for (const q of queries) out.push((await store.transport.owner.query<R>(q)).rows)
      return out
    } finally {
      await store.close()
    }
  }
  const c = await rawPg(db.ownerUrl)
  try {
    const out: R[][] = []
    for (const q of queries) out.push((await c.query(q)).rows as R[])
    return out
  } finally {
    await c.end()
  }
}
