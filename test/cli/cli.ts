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

export interface OwnerSession {
  /** Runs queries as the owner, opening the connection (PGlite: the data directory) on first use. */
  query<R = Record<string, unknown>>(queries: string[]): Promise<R[][]>
  /** Closes it; call before a CLI process opens the same PGlite directory (one process at a time). */
  release(): Promise<void>
}

/**
 * ownerQuery() that keeps its connection between calls: opening PGlite costs a second or more of CPU,
 * so a test file reading one database many times opens it once per stretch without a CLI run.
 */
export function ownerSession(db: FreshDatabase): OwnerSession {
  let opened: Promise<{ run: (q: string) => Promise<unknown[]>; close: () => Promise<void> }> | undefined
  const open = async () => {
    if (backend === 'pglite') {
      const store = await openStore({ dataDir: db.dataDir })
      return {
        run: async (q: string) => (await store.transport.owner.query(q)).rows as unknown[],
        close: () => store.close(),
      }
    }
    const c = await rawPg(db.ownerUrl)
    return { run: async (q: string) => (await c.query(q)).rows as unknown[], close: () => c.end() }
  }
  return {
    async query<R>(queries: string[]): Promise<R[][]> {
      opened ??= open()
      const conn = await opened
      const out: R[][] = []
      for (const q of queries) out.push((await conn.run(q)) as R[])
      return out
    },
    async release() {
      const was = opened
      opened = undefined
      if (was)
        await was.then(
          (c) => c.close(),
          () => {},
        ) // a failed open already failed its query
    },
  }
}
