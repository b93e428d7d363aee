// Numbered plain-SQL migrations: applied in order, each in one transaction, recorded with a checksum;
// then their online steps (online-steps.ts), which must not run inside one transaction.
// Two processes migrating at once serialize on a transaction-scoped advisory lock, so the second
// finds the work done. Runs on the owner pool (the direct URL): DDL does not belong on a pooler.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { MigrationError } from '../errors.js'
import { type OnlineStepOptions, runOnlineSteps } from './online-steps.js'
import type { DbClient, DbPool } from './pool.js'
import { withTransaction } from './pool.js'
import { adoptRuntimeRole, type RoleAdoption, runtimeRoleFor } from './runtime-role.js'
import { SQLSTATE } from './sqlstate.js'

/** Advisory lock key for migrations: the bytes of 'rbdbmigr' as a bigint. */
const MIGRATION_LOCK_KEY = '7161966484788080498'

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

export interface MigrationState {
  version: number
  name: string
  status: 'applied' | 'pending' | 'changed' | 'unknown'
  appliedAt?: string
}

export interface MigrateResult {
  applied: Migration[]
  /** Pending migrations that would run (dry run) or ran. */
  pending: Migration[]
  dryRun: boolean
  /** The database's runtime role after this run (absent on a dry run). */
  role?: RoleAdoption
}

export interface MigrateOptions {
  dryRun?: boolean
  onlineSteps?: OnlineStepOptions
  /** The runtime role to give this database's privileges to (default: robot_brain_app_<database>). */
  runtimeRole?: string
  /** The application URL's login role: made a member of the runtime role when it is an ordinary login. */
  appLogin?: string
}

const MIGRATIONS_DIR = new URL('../migrations/', import.meta.url)

export function loadMigrations(dir: URL | string = MIGRATIONS_DIR): Migration[] {
  const path = typeof dir === 'string' ? dir : fileURLToPath(dir)
  const migrations = readdirSync(path)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${path}/${file}`, 'utf8').replace(/\r\n/g, '\n')
      return {
        version: Number.parseInt(file.slice(0, 4), 10),
        name: file,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      }
    })
  // Numbers increase, each used once; a gap is allowed (branches reserve numbers and may land out of
  // order). Applied is tracked per version, so a late lower number is still applied when it arrives.
  migrations.forEach((m, i) => {
    const previous = migrations[i - 1]
    if (m.version < 1 || (previous && m.version <= previous.version))
      throw new MigrationError(`migration files must have distinct numbers from 0001 up: ${m.name}`)
  })
  return migrations
}

const CREATE_HISTORY = `
CREATE SCHEMA IF NOT EXISTS robot_brain;
CREATE TABLE IF NOT EXISTS robot_brain.schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

interface AppliedRow {
  version: number
  name: string
  checksum: string
  applied_at: Date
}

async function appliedRows(client: DbClient | DbPool): Promise<AppliedRow[] | null> {
  const exists = await client.query<{ t: string | null }>(
    "SELECT to_regclass('robot_brain.schema_migrations')::text AS t",
  )
  if (!exists.rows[0]?.t) return null
  const { rows } = await client.query<AppliedRow>(
    'SELECT version, name, checksum, applied_at FROM robot_brain.schema_migrations ORDER BY version',
  )
  return rows
}

/** Compares what is applied with the files; throws when an applied file was edited afterwards. */
function verify(known: Migration[], applied: AppliedRow[]): void {
  for (const row of applied) {
    const file = known.find((m) => m.version === row.version)
    if (file && file.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${row.name} was changed after it was applied (checksum ${row.checksum.slice(0, 12)} in the ` +
          `database, ${file.checksum.slice(0, 12)} on disk). Restore the original file and put the change in a new migration.`,
      )
    }
  }
}

export async function migrationStatus(
  pool: DbPool,
  known: Migration[] = loadMigrations(),
): Promise<MigrationState[]> {
  const applied = (await appliedRows(pool)) ?? []
  const states: MigrationState[] = known.map((m) => {
    const row = applied.find((r) => r.version === m.version)
    if (!row) return { version: m.version, name: m.name, status: 'pending' }
    return {
      version: m.version,
      name: m.name,
      status: row.checksum === m.checksum ? 'applied' : 'changed',
      appliedAt: row.applied_at.toISOString(),
    }
  })
  for (const row of applied) {
    if (!known.some((m) => m.version === row.version)) {
      states.push({
        version: row.version,
        name: row.name,
        status: 'unknown',
        appliedAt: row.applied_at.toISOString(),
      })
    }
  }
  return states
}

export async function migrate(
  pool: DbPool,
  options: MigrateOptions = {},
  known: Migration[] = loadMigrations(),
): Promise<MigrateResult> {
  if (options.dryRun) {
    const applied = (await appliedRows(pool)) ?? []
    verify(known, applied)
    const pending = known.filter((m) => !applied.some((r) => r.version === m.version))
    return { applied: [], pending, dryRun: true }
  }
  const done: Migration[] = []
  for (const migration of known) {
    const ran = await withTransaction(pool, async (client) => {
      await client.query({ text: 'SELECT pg_advisory_xact_lock($1::bigint)', values: [MIGRATION_LOCK_KEY] })
      await client.query(CREATE_HISTORY)
      const applied = (await appliedRows(client)) ?? []
      verify(known, applied)
      if (applied.some((r) => r.version === migration.version)) return false
      try {
        await client.query(migration.sql)
      } catch (err) {
        const e = err as Error & { position?: string }
        throw new MigrationError(`migration ${migration.name} failed: ${e.message}`, { cause: err })
      }
      await client.query({
        text: 'INSERT INTO robot_brain.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        values: [migration.version, migration.name, migration.checksum],
      })
      return true
    })
    if (ran) done.push(migration)
  }
  // The slow parts of migrations (backfills, indexes built CONCURRENTLY) run after them, outside
  // any long transaction, in batches that record their progress: see online-steps.ts.
  // The runtime role is adopted before the online steps: moving grants takes table locks, which must not meet another process's
  // CREATE INDEX CONCURRENTLY.
  const role = await adoptRole(pool, options)
  await runOnlineSteps(pool, options.onlineSteps)
  return { applied: done, pending: [], dryRun: false, role }
}

/**
 * After every migrate (migration files grant to robot_brain_app, which stands for the runtime role):
 * the database's own role takes over what robot_brain_app or a previous role holds here. Under the
 * migration lock, in one transaction. Absent before migration 0007 (a partial list of migrations).
 */
async function adoptRole(pool: DbPool, options: MigrateOptions): Promise<RoleAdoption | undefined> {
  const role = await runtimeRoleFor(pool, options.runtimeRole)
  return withTransaction(pool, async (client) => {
    await client.query({ text: 'SELECT pg_advisory_xact_lock($1::bigint)', values: [MIGRATION_LOCK_KEY] })
    const { rows } = await client.query<{ f: string | null }>(
      "SELECT to_regprocedure('robot_brain.adopt_runtime_role(text)')::text AS f",
    )
    if (!rows[0]?.f) return undefined
    try {
      return await adoptRuntimeRole(client, role, options.appLogin)
    } catch (err) {
      // Connection errors go up as they are (the caller retries them); a refusal gets the fix.
      const code = (err as { code?: string }).code
      if (code !== SQLSTATE.INSUFFICIENT_PRIVILEGE && code !== SQLSTATE.INVALID_PARAMETER_VALUE) throw err
      throw new MigrationError(
        `could not make ${role} the database's runtime role: ${(err as Error).message}. ` +
          'The migrating role needs CREATEROLE (or create the role beforehand: ' +
          `CREATE ROLE ${role} NOLOGIN, and GRANT ${role} TO the migrating role), or set ROBOT_BRAIN_APP_ROLE to an existing role`,
        { cause: err },
      )
    }
  })
}

/** Is the database at exactly the schema this code knows? */
export async function schemaIsCurrent(pool: DbPool, known: Migration[] = loadMigrations()): Promise<boolean> {
  const states = await migrationStatus(pool, known)
  return states.every((s) => s.status === 'applied')
}
