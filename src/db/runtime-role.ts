// The runtime role: the role the application's queries run as, row-level security applying to it.
// Roles are cluster-wide, so it is one per database: a login made for one database must not be able
// to read another Robot Brain database on the same server. Its name is ROBOT_BRAIN_APP_ROLE, or
// robot_brain_app_<database> by default. Migration files grant to robot_brain_app, which stands for
// it: after every migrate, robot_brain.adopt_runtime_role (migration 0007) moves what robot_brain_app
// holds in the database to the database's own role and lets only that role connect.
import type { Queryable } from './pool.js'

/** The role every database shared before migration 0007; in migration files, "the runtime role". */
export const SHARED_ROLE = 'robot_brain_app'
const PREFIX = `${SHARED_ROLE}_`
const MAX_IDENTIFIER = 63

/** Why `name` cannot be a runtime role, or null when it can. */
export function runtimeRoleProblem(name: string): string | null {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    return 'must be a lower-case SQL identifier (a-z, 0-9, _; at most 63)'
  if (name.startsWith('pg_')) return 'must not start with pg_ (reserved for PostgreSQL)'
  if (name === SHARED_ROLE) {
    return `must not be ${SHARED_ROLE}: that role is shared by every database on the server (earlier versions used it); leave it unset for ${PREFIX}<database>`
  }
  return null
}

/** 32-bit FNV-1a as 8 hex digits: keeps a shortened or cleaned name distinct, with no crypto module. */
function shortHash(text: string): string {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}

/**
 * The default runtime role of a database: robot_brain_app_<database>. A name that is not a plain
 * lower-case identifier, or too long, is cleaned and shortened and gets a hash of the real name, so two
 * databases never share a role by accident.
 */
export function deriveRuntimeRole(database: string): string {
  const clean = database.toLowerCase().replace(/[^a-z0-9_]/g, '_')
  const name = PREFIX + clean
  if (clean === database && name.length <= MAX_IDENTIFIER) return name
  return `${PREFIX}${clean.slice(0, MAX_IDENTIFIER - PREFIX.length - 9)}_${shortHash(database)}`
}

/** The configured runtime role, or the default one of the database `db` is connected to. */
export async function runtimeRoleFor(db: Queryable, configured?: string): Promise<string> {
  if (configured) return configured
  const { rows } = await db.query<{ db: string }>('SELECT current_database() AS db')
  return deriveRuntimeRole(rows[0]?.db ?? '')
}

/** What making `role` the database's runtime role did, and what is left for the operator. */
export interface RoleAdoption {
  role: string
  database: string
  /** Roles whose privileges in this database were moved to `role` (empty when nothing was left). */
  movedFrom: string[]
  /** Login roles made members of `role` (the application URL's login). */
  granted: string[]
  /** Login roles in the shared robot_brain_app but not in `role`: they cannot use this database. */
  sharedLogins: string[]
  /** False when CONNECT is still granted to PUBLIC (the migrating role does not own the database). */
  connectRestricted: boolean
}

const SHARED_LOGINS = `
SELECT m.rolname AS login FROM pg_auth_members am
JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
WHERE g.rolname = $1 AND m.rolcanlogin AND NOT m.rolsuper
  AND NOT pg_has_role(m.oid, (SELECT oid FROM pg_roles WHERE rolname = $2), 'MEMBER')
ORDER BY 1`

/** Login roles in the shared role that are not in this database's role `role`. */
export async function sharedLogins(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<{ login: string }>({ text: SHARED_LOGINS, values: [SHARED_ROLE, role] })
  return rows.map((r) => r.login)
}

/** Whether PUBLIC may still connect to the current database. */
export async function publicMayConnect(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ open: boolean }>(
    "SELECT has_database_privilege('public', current_database(), 'CONNECT') AS open",
  )
  return rows[0]?.open ?? true
}

const APP_LOGIN = `
SELECT r.rolcanlogin AS can_login, r.rolsuper OR r.rolbypassrls AS privileged,
       EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = 'robot_brain' AND n.nspowner = r.oid) AS owner,
       pg_has_role(r.oid, (SELECT oid FROM pg_roles WHERE rolname = $2), 'MEMBER') AS member
FROM pg_roles r WHERE r.rolname = $1`

/**
 * Makes `role` the runtime role of the database `client` is connected to (inside the caller's
 * transaction, as the owner). `appLogin`, the login of the application's URL, is made a member when it
 * is an ordinary login role: that is what the operator configured it for, and it keeps an upgraded
 * deployment working on its own database. A privileged login needs no membership (the store switches
 * to the role with SET ROLE).
 */
export async function adoptRuntimeRole(
  client: Queryable,
  role: string,
  appLogin?: string,
): Promise<RoleAdoption> {
  const { rows } = await client.query<{ moved: string[] }>({
    text: 'SELECT robot_brain.adopt_runtime_role($1) AS moved',
    values: [role],
  })
  const granted: string[] = []
  if (appLogin) {
    const login = await client.query<{
      can_login: boolean
      privileged: boolean
      owner: boolean
      member: boolean
    }>({ text: APP_LOGIN, values: [appLogin, role] })
    const l = login.rows[0]
    if (l?.can_login && !l.privileged && !l.owner && !l.member) {
      // Both names are checked identifiers or come from pg_roles; quoted all the same.
      await client.query(`GRANT ${quoteIdent(role)} TO ${quoteIdent(appLogin)}`)
      granted.push(appLogin)
    }
  }
  const db = await client.query<{ db: string }>('SELECT current_database() AS db')
  return {
    role,
    database: db.rows[0]?.db ?? '',
    movedFrom: rows[0]?.moved ?? [],
    granted,
    sharedLogins: await sharedLogins(client, role),
    connectRestricted: !(await publicMayConnect(client)),
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * What to tell the operator after a migrate: one line per thing left to do (none when all is done).
 * The logins of the shared role are named on the run that moved the privileges (`doctor` keeps watch).
 */
export function adoptionAdvice(a: RoleAdoption): string[] {
  const out: string[] = []
  if (a.movedFrom.length > 0 && a.sharedLogins.length > 0) {
    out.push(
      `login roles in the shared role ${SHARED_ROLE} (earlier versions) can no longer use this database: ` +
        `${a.sharedLogins.join(', ')}. Grant this database's role to each one made for it: ` +
        a.sharedLogins.map((l) => `GRANT ${a.role} TO ${quoteIdent(l)};`).join(' ') +
        ` Once every database a login serves is migrated, REVOKE ${SHARED_ROLE} FROM it.`,
    )
  }
  if (!a.connectRestricted) {
    out.push(
      'any role may still connect to this database (CONNECT is granted to PUBLIC) because the migrating role does not own it; ' +
        `as the database's owner: REVOKE CONNECT ON DATABASE ${quoteIdent(a.database)} FROM PUBLIC; ` +
        `GRANT CONNECT ON DATABASE ${quoteIdent(a.database)} TO ${a.role};`,
    )
  }
  return out
}
