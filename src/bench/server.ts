// The PostgreSQL server a run measures on: a database of its own (rbbench_<time>), created as the
// administrator and dropped at the end unless kept, and the login role PgBouncer lets through.
import pg from 'pg'
import type { DbPool } from '../db/pool.js'
import { deriveRuntimeRole } from '../db/runtime-role.js'
import { redactUrl } from '../db/urls.js'

export interface ServerOptions {
  /** Administrator URL on the server (a superuser: the run creates a database and bulk-loads). */
  adminUrl: string
  /** PgBouncer in transaction mode in front of the same server (host:port), or null to skip it. */
  pgbouncer: string | null
  /** Login role for the app through PgBouncer (made a member of the database's runtime role, listed in its auth file). */
  appLogin: string
}

export interface BenchDatabase {
  name: string
  /** Direct, as the administrator: migrations, bulk loads, and the raw baselines. */
  ownerUrl: string
  /** Through PgBouncer as the administrator (baseline) and as the app login (store). */
  bouncerOwnerUrl: string | null
  bouncerAppUrl: string | null
  serverVersion: string
  drop(): Promise<void>
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'robot-brain-bench' })
  try {
    await client.connect()
  } catch (err) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(err as Error).message}`)
  }
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function urlFor(base: string, database: string, user?: string, hostPort?: string): string {
  const u = new URL(base)
  u.pathname = `/${database}`
  if (user !== undefined) {
    u.username = user
    u.password = ''
  }
  if (hostPort) u.host = hostPort
  return u.toString()
}

/** `suffix` (lower-case letters, digits, _) tells apart the databases one run creates. */
export async function createBenchDatabase(opts: ServerOptions, suffix = ''): Promise<BenchDatabase> {
  if (!/^[a-z0-9_]*$/.test(suffix))
    throw new Error('bench database suffix: lower-case letters, digits and _ only')
  const name = `rbbench_${new Date()
    .toISOString()
    .replace(/[-:TZ.]/g, '')
    .slice(0, 14)}_${process.pid}${suffix}`
  const serverVersion = await withClient(opts.adminUrl, async (c) => {
    // template0: nobody is connected to it, so this never waits on another session.
    await c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`)
    return (
      (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? 'unknown'
    )
  })
  const ownerUrl = urlFor(opts.adminUrl, name)
  const admin = new URL(opts.adminUrl)
  return {
    name,
    ownerUrl,
    bouncerOwnerUrl: opts.pgbouncer ? urlFor(opts.adminUrl, name, undefined, opts.pgbouncer) : null,
    bouncerAppUrl: opts.pgbouncer ? urlFor(opts.adminUrl, name, opts.appLogin, opts.pgbouncer) : null,
    serverVersion,
    // The database's runtime role (robot_brain_app_<database>, made by migrate) goes with it.
    drop: () =>
      withClient(admin.toString(), async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await c.query(`DROP ROLE IF EXISTS ${deriveRuntimeRole(name)}`)
      }),
  }
}

/**
 * Creates the app login role if missing and makes it a member of the database's runtime role (which
 * migrate creates). Roles are cluster-wide: tolerate a concurrent creator.
 */
export async function ensureAppLogin(ownerUrl: string, login: string, runtimeRole: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(login)) throw new Error('appLogin must be a lower-case SQL identifier')
  await withClient(ownerUrl, (c) =>
    c.query(`DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${login}') THEN
    BEGIN
      CREATE ROLE ${login} LOGIN NOSUPERUSER NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT pg_has_role('${login}', '${runtimeRole}', 'MEMBER') THEN
    BEGIN
      GRANT ${runtimeRole} TO ${login};
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END $$`),
  )
}

/** A pool of the bench database's owner on the direct URL, for loading data and checks. */
export function benchOwnerPool(ownerUrl: string, max: number): DbPool {
  const pool = new pg.Pool({ connectionString: ownerUrl, max, application_name: 'robot-brain-bench' })
  pool.on('error', () => {})
  return pool as unknown as DbPool
}
