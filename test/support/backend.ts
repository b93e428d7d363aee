// Test backend selection: ROBOT_BRAIN_TEST_BACKEND = pglite (default) | pg | pgbouncer | neon.
//
//   pglite     embedded PGlite in a fresh temp directory
//   pg         PostgreSQL 15 on 127.0.0.1:5432, direct TCP with `pg`
//   pgbouncer  same server through PgBouncer (transaction pool mode) on 127.0.0.1:6432, as robot_brain_test_app
//   neon       same server through @neondatabase/serverless over WebSocket via test/support/ws-proxy
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { neonConfig } from '@neondatabase/serverless'
import pg from 'pg'
import { inject } from 'vitest'
import ws from 'ws'
import { deriveRuntimeRole } from '../../src/db/runtime-role.js'

export type BackendName = 'pglite' | 'pg' | 'pgbouncer' | 'neon'

export const BACKENDS: readonly BackendName[] = ['pglite', 'pg', 'pgbouncer', 'neon']
export const BACKEND_ENV = 'ROBOT_BRAIN_TEST_BACKEND'
/** Env fallback for the WS proxy address (`127.0.0.1:PORT/v1`) when not running under vitest's globalSetup. */
export const WS_PROXY_ENV = 'ROBOT_BRAIN_TEST_WS_PROXY'

export const PG_HOST = '127.0.0.1'
export const PG_PORT = 5432
export const PGBOUNCER_PORT = 6432
export const SUPERUSER = 'postgres'
export const TEST_APP_ROLE = 'robot_brain_test_app'
/** The role every database shared before migration 0007 (migration files still name it). */
export const SHARED_APP_ROLE = 'robot_brain_app'
/** The embedded database is named postgres: its runtime role. */
export const PGLITE_RUNTIME_ROLE = deriveRuntimeRole('postgres')

/** The runtime role (NOLOGIN, RLS applies) of a test database: robot_brain_app_<database>. */
export function runtimeRoleOf(db: { name: string; dataDir?: string }): string {
  return db.dataDir ? PGLITE_RUNTIME_ROLE : deriveRuntimeRole(db.name)
}
export const ADMIN_URL = `postgres://${SUPERUSER}@${PG_HOST}:${PG_PORT}/postgres`

declare module 'vitest' {
  export interface ProvidedContext {
    /** `neonConfig.wsProxy` base, e.g. `127.0.0.1:5480/v1` (only for backend neon). */
    neonWsProxy: string
  }
}

export function backendName(): BackendName {
  const raw = (process.env[BACKEND_ENV] ?? '').trim().toLowerCase()
  if (raw === '') return 'pglite'
  if ((BACKENDS as readonly string[]).includes(raw)) return raw as BackendName
  throw new Error(`${BACKEND_ENV}=${raw} is not one of ${BACKENDS.join(', ')}`)
}

export function isServerBackend(name: BackendName = backendName()): boolean {
  return name !== 'pglite'
}

export interface NeonTestOptions {
  /** Proxy address without scheme, e.g. `127.0.0.1:5480/v1`; the driver appends `?address=host:port`. */
  wsProxy: string
  secureWebSocket: false
}

export interface FreshDatabase {
  name: string
  /** Direct superuser URL (migrations). Empty for pglite. */
  ownerUrl: string
  /** URL the application connects with on this backend. Empty for pglite. */
  appUrl: string
  driver: 'pg' | 'neon' | undefined
  /** pglite only: an empty directory for PGlite's dataDir. */
  dataDir?: string
  /** neon only. */
  neon?: NeonTestOptions
  /** Drops the database WITH (FORCE) (pglite: removes dataDir). Idempotent. */
  drop(): Promise<void>
}

/** The WS proxy address published by test/support/global-setup.ts (backend neon). */
export function neonWsProxy(): string {
  let provided: string | undefined
  try {
    provided = inject('neonWsProxy')
  } catch {
    provided = undefined
  }
  const addr = provided || process.env[WS_PROXY_ENV]
  if (!addr) {
    throw new Error(
      `no WebSocket proxy address: run under vitest (globalSetup starts it for ${BACKEND_ENV}=neon) ` +
        `or start "node scripts/ws-proxy.mjs --port 5480" and set ${WS_PROXY_ENV}=127.0.0.1:5480/v1`,
    )
  }
  return addr
}

/**
 * Configures the global `neonConfig` of @neondatabase/serverless for the local proxy:
 * plain ws://, no TLS, and no pipelined password (the local server uses trust auth).
 */
export function configureNeonForTests(opts: NeonTestOptions): void {
  neonConfig.webSocketConstructor = ws // Node 20 has no global WebSocket
  neonConfig.wsProxy = (host, port) => `${opts.wsProxy}?address=${host}:${port}`
  neonConfig.useSecureWebSocket = opts.secureWebSocket
  neonConfig.forceDisablePgSSL = true
  neonConfig.pipelineTLS = false
  neonConfig.pipelineConnect = false
}

/** A connected `pg.Client`; the caller must `end()` it. */
export async function rawPg(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await rawPg(ADMIN_URL)
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

let appRoleReady: Promise<void> | undefined

/**
 * Creates login role robot_brain_test_app if missing. Safe to call concurrently from parallel test
 * files. It is made a member of each test database's own runtime role by freshDatabase().
 */
export function ensureTestAppRole(): Promise<void> {
  appRoleReady ??= withAdmin(async (c) => {
    await c.query('BEGIN')
    try {
      // Serialize our own callers; the exception handler covers anyone else racing us.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('robot_brain_test_roles'))")
      await c.query(`DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${TEST_APP_ROLE}') THEN
    BEGIN
      CREATE ROLE ${TEST_APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END $$`)
      await c.query('COMMIT')
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {})
      throw err
    }
  }).catch((err) => {
    appRoleReady = undefined
    throw err
  })
  return appRoleReady
}

function databaseName(label: string): string {
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40) || 'db'
  return `rbtest_${clean}_${randomBytes(5).toString('hex')}`
}

/** A new, empty database (or PGlite data directory) for the current backend. */
export async function freshDatabase(label: string): Promise<FreshDatabase> {
  const backend = backendName()
  if (backend === 'pglite') {
    const dataDir = await mkdtemp(join(tmpdir(), `rbtest-${databaseName(label).slice(7)}-`))
    return {
      name: dataDir,
      ownerUrl: '',
      appUrl: '',
      driver: undefined,
      dataDir,
      drop: () => rm(dataDir, { recursive: true, force: true }),
    }
  }

  await ensureTestAppRole()
  const name = databaseName(label)
  // The database's own runtime role, made now (migrate adopts an existing one) so that the test app
  // login is a member of it whichever way a test migrates; dropped with the database.
  const role = deriveRuntimeRole(name)
  await withAdmin(async (c) => {
    // template0: nobody can be connected to it, so parallel CREATE DATABASE never conflicts.
    await c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`)
    await c.query(`CREATE ROLE ${role} NOLOGIN NOBYPASSRLS`)
    await c.query(`GRANT ${role} TO ${TEST_APP_ROLE}`)
  })
  const ownerUrl = `postgres://${SUPERUSER}@${PG_HOST}:${PG_PORT}/${name}`
  const drop = async () => {
    await withAdmin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      // Still referenced elsewhere (a test copied the database): leave it.
      await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
    })
  }

  switch (backend) {
    case 'pg':
      return { name, ownerUrl, appUrl: ownerUrl, driver: 'pg', drop }
    case 'pgbouncer':
      return {
        name,
        ownerUrl,
        appUrl: `postgres://${TEST_APP_ROLE}@${PG_HOST}:${PGBOUNCER_PORT}/${name}`,
        driver: 'pg',
        drop,
      }
    case 'neon':
      return {
        name,
        ownerUrl,
        appUrl: ownerUrl,
        driver: 'neon',
        neon: { wsProxy: neonWsProxy(), secureWebSocket: false },
        drop,
      }
  }
}
