// statement_timeout for the application's sessions behind a transaction-mode pooler.
//
// The hot statements run alone (autocommit, tenant context set inside the statement): there is no
// transaction to SET LOCAL in without paying a round trip for BEGIN. On a direct connection the
// timeout is a startup parameter (pg.ts). Through a pooler neither a session SET nor a startup
// parameter works, but the pooler opens its server connections as the application's login role, and
// PostgreSQL applies that role's per-database defaults to every session it starts. So migrate (as the
// owner, on the direct URL) stores the timeout there: ALTER ROLE <app login> IN DATABASE <db> SET.
// Server connections the pooler opened before keep their old value until it recycles them.

import { type DbPool, withTransaction } from './pool.js'
import { SQLSTATE } from './sqlstate.js'

export type PooledTimeoutResult =
  | 'set' // stored (or already stored) on the login role for this database
  | 'not_permitted' // the owner may not alter that role: set it by hand, see docs/resilience.md
  | 'skipped' // nothing to do: no pooler, no login role in the URL, or the owner is the login role

/** Advisory lock key: the bytes of 'rbdbstmt' as a bigint. */
const LOCK_KEY = '8242260642048011636'

/** A double-quoted SQL identifier (ALTER ROLE takes no bind parameters). */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

export async function applyPooledStatementTimeout(
  owner: DbPool,
  appLogin: string | undefined,
  timeoutMs: number,
): Promise<PooledTimeoutResult> {
  if (!appLogin || !Number.isInteger(timeoutMs) || timeoutMs <= 0) return 'skipped'
  const wanted = `statement_timeout=${timeoutMs}ms`
  // Two processes migrating at once would both write the catalog row ("tuple concurrently updated"):
  // serialize on a transaction lock, and read first so a current setting is not rewritten.
  return withTransaction(owner, async (db) => {
    await db.query({ text: 'SELECT pg_advisory_xact_lock($1::bigint)', values: [LOCK_KEY] })
    const { rows } = await db.query<{ exists: boolean; is_self: boolean; current: boolean; db: string }>({
      text: `SELECT r.oid IS NOT NULL AS exists,
                  r.rolname = current_user AS is_self,
                  coalesce($2 = ANY (s.setconfig), false) AS current,
                  current_database() AS db
           FROM (SELECT 1) one
           LEFT JOIN pg_roles r ON r.rolname = $1
           LEFT JOIN pg_db_role_setting s
             ON s.setrole = r.oid AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      values: [appLogin, wanted],
    })
    const row = rows[0]
    if (!row?.exists || row.is_self) return 'skipped'
    if (row.current) return 'set'
    try {
      await db.query('SAVEPOINT alter_role')
      await db.query(
        `ALTER ROLE ${quoteIdent(appLogin)} IN DATABASE ${quoteIdent(row.db)} SET statement_timeout = '${timeoutMs}ms'`,
      )
      return 'set'
    } catch (err) {
      if ((err as { code?: string }).code !== SQLSTATE.INSUFFICIENT_PRIVILEGE) throw err
      await db.query('ROLLBACK TO SAVEPOINT alter_role')
      return 'not_permitted'
    }
  })
}
