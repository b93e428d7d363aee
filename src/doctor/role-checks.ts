// Is the runtime role this database's own? Roles are server-wide: a role that holds privileges in
// several databases lets a login made for one read every tenant of the others. pg_shdepend, a catalog
// shared by all databases of a server, records in which database each role holds privileges or
// policies, so one database can see the others' use of a role without connecting to them.
import type { Queryable } from '../db/pool.js'
import { publicMayConnect, quoteIdent, SHARED_ROLE, sharedLogins } from '../db/runtime-role.js'
import { type Check, ok, skip, warn } from './check.js'

/** Other databases of this server where `role` holds privileges, policies, objects or CONNECT. */
const OTHER_DATABASES = `
SELECT DISTINCT d.datname AS db FROM pg_shdepend s
JOIN pg_database d ON d.oid = CASE WHEN s.dbid = 0 THEN s.objid ELSE s.dbid END
WHERE s.refclassid = 'pg_authid'::regclass
  AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)
  AND (s.dbid <> 0 OR s.classid = 'pg_database'::regclass)
  AND d.datname <> current_database()
ORDER BY 1`

export async function otherDatabasesOf(db: Queryable, role: string): Promise<string[]> {
  const { rows } = await db.query<{ db: string }>({ text: OTHER_DATABASES, values: [role] })
  return rows.map((r) => r.db)
}

async function roleExists(db: Queryable, role: string): Promise<boolean> {
  const { rows } = await db.query<{ e: boolean }>({
    text: 'SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AS e',
    values: [role],
  })
  return rows[0]?.e ?? false
}

const list = (names: string[]) => names.map((n) => `"${n}"`).join(', ')

/**
 * `runtime-role-shared`: warns when the runtime role also serves other databases. `legacy-shared-role`:
 * warns when logins of the shared role of earlier versions can still read databases not migrated yet.
 * `connect-privilege`: warns when any role may connect to this database.
 */
export async function sharedRoleChecks(owner: Queryable, role: string): Promise<Check[]> {
  const id = 'runtime-role-shared'
  if (!(await roleExists(owner, role))) {
    return [
      skip(id, `role ${role} does not exist yet (run robot-brain-db migrate)`),
      skip('connect-privilege', 'not migrated'),
    ]
  }
  const checks: Check[] = []
  const others = await otherDatabasesOf(owner, role)
  const legacyDbs = await otherDatabasesOf(owner, SHARED_ROLE)
  const legacyLogins = legacyDbs.length > 0 ? await sharedLogins(owner, role) : []
  checks.push(
    others.length > 0
      ? warn(
          id,
          `the runtime role ${role} also holds privileges in database(s) ${list(others)} of this server: a login made for ` +
            'any of them can connect to the others and read every tenant there',
          'give each database its own role: leave ROBOT_BRAIN_APP_ROLE unset (robot_brain_app_<database>) or set a ' +
            `different one per database, run robot-brain-db migrate on each, and grant each app login only its database's role`,
        )
      : ok(id, `${role} is this database's own runtime role`),
  )
  checks.push(
    legacyDbs.length > 0 && legacyLogins.length > 0
      ? warn(
          'legacy-shared-role',
          `database(s) ${list(legacyDbs)} of this server still grant the shared role ${SHARED_ROLE} of earlier versions, ` +
            `and its login roles ${list(legacyLogins)} can read every tenant there`,
          "run robot-brain-db migrate on each of those databases; then grant each login only its own database's role " +
            `(GRANT robot_brain_app_<database> TO <login>) and REVOKE ${SHARED_ROLE} FROM ${legacyLogins.map(quoteIdent).join(', ')}`,
        )
      : ok('legacy-shared-role', `no database of this server lets the logins of ${SHARED_ROLE} read it`),
  )
  if (await publicMayConnect(owner)) {
    const { rows } = await owner.query<{ db: string }>('SELECT current_database() AS db')
    const name = quoteIdent(rows[0]?.db ?? '')
    checks.push(
      warn(
        'connect-privilege',
        'any role of the server may connect to this database (CONNECT is granted to PUBLIC); migrate could not revoke it, not being the database owner',
        `as the database owner: REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC; GRANT CONNECT ON DATABASE ${name} TO ${role};`,
      ),
    )
  } else {
    checks.push(ok('connect-privilege', `CONNECT to this database is granted to ${role}, not to every role`))
  }
  return checks
}
