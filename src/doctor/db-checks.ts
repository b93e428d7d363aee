// Checks that ask the database: reachability, server version, extensions, schema version, the role the
// application logs in as, and clock skew. Each runs one query, once (no retries: doctor reports what
// a first attempt sees), and turns an error into a failed check instead of throwing.
import { migrationStatus } from '../db/migrate.js'
import type { DbPool, Queryable, Transport } from '../db/pool.js'
import { type Check, fail, ok, skip, warn } from './check.js'
import { connectFix } from './connect-fix.js'

/** What each extension gives the product, said when it is missing. */
export const EXTENSIONS: ReadonlyArray<readonly [name: string, without: string]> = [
  ['vector', 'semantic search unavailable'],
  ['pg_stat_statements', 'slow-query statistics unavailable'],
  ['pgcrypto', 'pgcrypto functions (digest, gen_random_bytes) unavailable'],
  ['pg_trgm', 'fuzzy (trigram) text matching unavailable'],
]

export const MIN_SERVER_VERSION = 150000
export const MAX_CLOCK_SKEW_MS = 2000

export async function connectCheck(
  id: string,
  pool: Queryable,
  describe: (err: unknown) => string,
): Promise<Check> {
  try {
    const { rows } = await pool.query<{ db: string; usr: string }>(
      'SELECT current_database() AS db, session_user AS usr',
    )
    return ok(id, `connected to database "${rows[0]?.db}" as "${rows[0]?.usr}"`)
  } catch (err) {
    return fail(id, `cannot connect: ${describe(err)}`, connectFix(err))
  }
}

export async function serverVersionCheck(db: Queryable): Promise<Check> {
  const { rows } = await db.query<{ version: string; num: number }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num')::integer AS num",
  )
  const r = rows[0]
  if (!r || r.num < MIN_SERVER_VERSION) {
    return fail(
      'server-version',
      `PostgreSQL ${r?.version ?? '?'}: the schema needs 15 or later`,
      'upgrade to PostgreSQL 15+ (on Neon: create the project with 16 or 17)',
    )
  }
  return ok('server-version', `PostgreSQL ${r.version}`)
}

const EXTENSION_STATE = `
SELECT x.name, e.extversion AS installed, a.default_version AS available
FROM unnest($1::text[]) AS x(name)
LEFT JOIN pg_extension e ON e.extname = x.name
LEFT JOIN pg_available_extensions a ON a.name = x.name`

export async function extensionChecks(db: Queryable): Promise<Check[]> {
  const { rows } = await db.query<{ name: string; installed: string | null; available: string | null }>({
    text: EXTENSION_STATE,
    values: [EXTENSIONS.map(([name]) => name)],
  })
  return EXTENSIONS.map(([name, without]) => {
    const id = `extension ${name}`
    const r = rows.find((row) => row.name === name)
    if (r?.installed) return ok(id, `installed (${r.installed})`)
    if (r?.available) return ok(id, `available (${r.available}), not installed yet`)
    return warn(id, `not available on this server: ${without}`, `use a server that ships ${name} (Neon does)`)
  })
}

export async function schemaCheck(owner: DbPool): Promise<Check> {
  const id = 'schema'
  const states = await migrationStatus(owner)
  const by = (status: string) => states.filter((s) => s.status === status).map((s) => s.name)
  const [pending, changed, unknown] = [by('pending'), by('changed'), by('unknown')]
  if (changed.length > 0) {
    return fail(
      id,
      `edited after being applied: ${changed.join(', ')}`,
      'restore the original files; put changes in a new migration',
    )
  }
  if (unknown.length > 0) {
    return fail(
      id,
      `the database has migrations this version does not know: ${unknown.join(', ')}`,
      'upgrade robot-brain-db',
    )
  }
  if (pending.length > 0) {
    return fail(
      id,
      `${pending.length} migration(s) pending: ${pending.join(', ')}`,
      'run robot-brain-db migrate',
    )
  }
  return ok(id, `current (${states.length} migration${states.length === 1 ? '' : 's'} applied)`)
}

const LOGIN_ROLE = `
SELECT r.rolname AS login, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
       EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = 'robot_brain' AND n.nspowner = r.oid) AS owner,
       EXISTS (SELECT FROM pg_roles a WHERE a.rolname = $1) AS role_exists,
       EXISTS (SELECT FROM pg_roles a WHERE a.rolname = $1 AND pg_has_role(r.oid, a.oid, 'MEMBER')) AS member
FROM pg_roles r WHERE r.rolname = session_user`

/**
 * The role the app's URL logs in as. A superuser, BYPASSRLS or owner role skips row-level security:
 * on a direct connection the store switches to the runtime role per connection (workable), but
 * through a transaction pooler it cannot, and refuses to start.
 */
export async function runtimeRoleCheck(
  app: Queryable,
  transport: Transport,
  runtimeRole: string,
): Promise<Check> {
  const id = 'runtime-role'
  const { rows } = await app.query<{
    login: string
    superuser: boolean
    bypassrls: boolean
    owner: boolean
    role_exists: boolean
    member: boolean
  }>({ text: LOGIN_ROLE, values: [runtimeRole] })
  const r = rows[0]
  if (!r) return fail(id, 'the login role is not visible in pg_roles', 'connect as a regular login role')
  if (!r.role_exists) return skip(id, `role ${runtimeRole} does not exist yet (run robot-brain-db migrate)`)
  const privilege = r.superuser
    ? 'is a superuser'
    : r.bypassrls
      ? 'has BYPASSRLS'
      : r.owner
        ? 'owns the schema'
        : ''
  if (transport.driver === 'pglite') {
    return ok(
      id,
      `embedded: queries switch from "${r.login}" to ${runtimeRole}, so row-level security applies`,
    )
  }
  const dedicated = `CREATE ROLE app LOGIN PASSWORD '...' IN ROLE ${runtimeRole}; use it in DATABASE_URL and keep the owner for DATABASE_URL_UNPOOLED`
  if (privilege && transport.pooled) {
    return fail(
      id,
      `the app logs in as "${r.login}", which ${privilege}, through a transaction pooler: the store refuses to run (row-level security would not apply)`,
      dedicated,
    )
  }
  if (privilege) {
    return warn(
      id,
      `the app logs in as "${r.login}", which ${privilege}; the store switches to ${runtimeRole} on each connection`,
      dedicated,
    )
  }
  if (!r.member) {
    return fail(
      id,
      `the app's login role "${r.login}" is not a member of ${runtimeRole}`,
      `GRANT ${runtimeRole} TO "${r.login}"`,
    )
  }
  return ok(id, `the app logs in as "${r.login}", a member of ${runtimeRole}: row-level security applies`)
}

/** The server's clock against ours, halfway through the round trip. */
export async function clockSkewCheck(db: Queryable): Promise<Check> {
  const before = Date.now()
  const { rows } = await db.query<{ ms: number }>(
    'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms',
  )
  const after = Date.now()
  const skew = Math.round((rows[0]?.ms ?? 0) - (before + after) / 2)
  const text = `${skew >= 0 ? '+' : ''}${skew} ms (round trip ${after - before} ms)`
  if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
    return warn(
      'clock-skew',
      `the server's clock differs from this machine's by ${text}`,
      'sync this machine with NTP: created_at and UUIDv7 ids come from the application clock',
    )
  }
  return ok('clock-skew', text)
}
