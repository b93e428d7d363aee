// Opens a store on the backend chosen by ROBOT_BRAIN_TEST_BACKEND, on a fresh database, and gives
// tests a privileged side door (the owner: superuser, skips row-level security) to count what was
// really written. One store per test file: PGlite costs seconds to start, and a new PGlite data
// directory (initdb) many more, so PGlite databases are copies of a template made once per schema.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import type { StoreOptions } from '../../src/config.js'
import type { DbPool } from '../../src/db/pool.js'
import type { OpenStoreOptions } from '../../src/store/store.js'
import { openStore, type Store } from '../../src/store/store.js'
import type { TurnInput } from '../../src/store/types.js'
import { backendName, type FreshDatabase, freshDatabase, isServerBackend, rawPg } from './backend.js'
import { ensureBuilt } from './build.mjs'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export const backend = backendName()
export const serverBackend = isServerBackend(backend)

/** The options that open a store on `db` for the current backend. */
export function storeOptions(db: FreshDatabase, extra: Partial<OpenStoreOptions> = {}): OpenStoreOptions {
  const base: StoreOptions = serverBackend
    ? { url: db.appUrl, directUrl: db.ownerUrl, driver: db.driver, neon: db.neon }
    : { dataDir: db.dataDir }
  // Short retry budget: a test that hits a real outage should fail in seconds, not 20.
  return { ...base, retry: { budgetMs: 5_000 }, ...extra }
}

export interface TestStore {
  db: FreshDatabase
  /** The store of the current open; replaced by reopen(). */
  store: Store
  /** Closes the store and opens a new one on the same database (PGlite: the same directory). */
  reopen(): Promise<Store>
  /** Queries as the owner (superuser): sees every tenant's rows. */
  ownerQuery<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>
  /** Row counts of the tenant tables, all tenants. */
  counts(): Promise<{ sessions: number; conversations: number; interactions: number }>
  /** Closes the store (and owner connection) and drops the database. */
  cleanup(): Promise<void>
}

/**
 * A PGlite data directory, initialized (and migrated when asked), shared by every test process as a
 * template. Named by the PGlite version and the migration files, so a change to either makes a new one.
 * Made in a private directory and renamed into place: two processes racing both succeed, one's copy wins.
 */
async function pgliteTemplate(migrated: boolean): Promise<string> {
  const hash = createHash('sha256')
  hash.update(readFileSync(join(ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json')))
  const migrations = join(ROOT, 'src', 'migrations')
  for (const f of readdirSync(migrations).sort()) hash.update(f).update(readFileSync(join(migrations, f)))
  const dir = join(
    tmpdir(),
    `rbtest-template-${migrated ? 'migrated' : 'empty'}-${hash.digest('hex').slice(0, 16)}`,
  )
  if (existsSync(join(dir, 'PG_VERSION'))) return dir
  const staging = mkdtempSync(join(tmpdir(), 'rbtest-staging-'))
  try {
    const store = await openStore({ dataDir: join(staging, 'data') })
    if (migrated) await store.migrate()
    await store.close()
    try {
      renameSync(join(staging, 'data'), dir)
    } catch (err) {
      if (!existsSync(join(dir, 'PG_VERSION'))) throw err // not a lost race
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return dir
}

/**
 * A new database for the current backend; on PGlite a copy of the template (empty or migrated), so a
 * test file does not pay for initdb.
 */
export async function freshTestDatabase(label: string, migrated: boolean): Promise<FreshDatabase> {
  const db = await freshDatabase(label)
  if (!serverBackend && db.dataDir) cpSync(await pgliteTemplate(migrated), db.dataDir, { recursive: true })
  return db
}

export async function openTestStore(
  label: string,
  opts: { migrate?: boolean; options?: Partial<OpenStoreOptions> } = {},
): Promise<TestStore> {
  const db = await freshTestDatabase(label, opts.migrate !== false)
  const options = storeOptions(db, opts.options)
  let store = await openStore(options)
  if (opts.migrate !== false) await store.migrate()
  let owner: pg.Client | undefined

  const ownerQuery = async <R>(text: string, values?: unknown[]): Promise<R[]> => {
    if (!serverBackend) {
      // PGlite's single connection: the owner pool acts as the login superuser.
      const { rows } = await (store.transport.owner as DbPool).query<R>({ text, values })
      return rows
    }
    owner ??= await rawPg(db.ownerUrl)
    const { rows } = await owner.query(text, values)
    return rows as R[]
  }

  const ts: TestStore = {
    db,
    store,
    async reopen() {
      await store.close()
      store = await openStore(options)
      ts.store = store
      return store
    },
    ownerQuery,
    async counts() {
      const [row] = await ownerQuery<{ s: number; c: number; i: number }>(
        `SELECT (SELECT count(*)::int FROM robot_brain.sessions) AS s,
                (SELECT count(*)::int FROM robot_brain.conversations) AS c,
                (SELECT count(*)::int FROM robot_brain.robot_interactions) AS i`,
      )
      return { sessions: row?.s ?? -1, conversations: row?.c ?? -1, interactions: row?.i ?? -1 }
    },
    async cleanup() {
      await owner?.end().catch(() => {})
      await store.close().catch(() => {})
      await db.drop()
    },
  }
  return ts
}

/** A turn input with defaults; override any field. */
export function turnInput(sessionId: string, n: number, extra: Partial<TurnInput> = {}): TurnInput {
  return {
    sessionId,
    robotPersonality: 'friendly',
    userMessage: `user message ${n}`,
    robotResponse: `robot response ${n}`,
    ...extra,
  }
}

// --- Child processes on the compiled package (dist/): the command line, and a second process. ---

export const DIST_INDEX = join(ROOT, 'dist', 'index.js')

/** Builds dist/ unless current; fails when the build fails (see build.mjs, the suite's one check). */
export const ensureDist = ensureBuilt

export interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** The environment of a child: ours without any database settings, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(DATABASE_|NEON_|ROBOT_BRAIN_DATA_DIR|PORT$)/.test(k)) clean[k] = v
  }
  return { ...clean, ...env }
}

export function spawnProcess(command: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(command, args, { cwd: ROOT, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Runs a process to its end and collects its output. */
export function runProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawnProcess(command, args, env)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d) => {
      stdout += d
    })
    child.stderr?.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin?.end()
  })
}

/** Runs the robot-brain-db command (compiled) with `env` as its only database settings. */
export async function runCli(args: string[], env: Record<string, string>): Promise<ProcessResult> {
  await ensureDist()
  return runProcess(process.execPath, [join(ROOT, 'bin', 'robot-brain-db.js'), ...args], env)
}
