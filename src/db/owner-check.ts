// Whether the owner pool (DATABASE_URL_UNPOOLED, or DATABASE_URL when that is unset) logs in as a role
// that can do the owner's work: create or own the robot_brain schema, read every tenant's rows (the
// owner's own row-level security policy), manage API keys. The README's setup gives the application
// a login role in the runtime role; given as DATABASE_URL alone, it also becomes the "owner", and
// migrations, keys and status then fail with a bare "permission denied" or, worse, count only the
// rows row-level security lets it see. This turns that into one message with the fix.
import { ConfigError } from '../errors.js'
import type { Queryable } from './pool.js'
import { SQLSTATE } from './sqlstate.js'

export interface OwnerState {
  login: string
  superuser: boolean
  schemaExists: boolean
  schemaOwner: string | null
  /** The login role is the schema's owner or inherits its privileges (superusers do). */
  ownsSchema: boolean
  /** May create a schema in this database (needed when there is none yet). */
  canCreateSchema: boolean
}

export const OWNER_FIX =
  "set DATABASE_URL_UNPOOLED to the schema owner's direct URL (on Neon: the owner's connection string " +
  'without -pooler); keep the application login role in DATABASE_URL'

const OWNER_STATE = `
SELECT r.rolname AS login, r.rolsuper AS superuser,
       n.oid IS NOT NULL AS schema_exists, o.rolname AS schema_owner,
       coalesce(pg_has_role(r.oid, n.nspowner, 'USAGE'), false) AS owns_schema,
       has_database_privilege(current_database(), 'CREATE') AS can_create
FROM pg_roles r
LEFT JOIN pg_namespace n ON n.nspname = 'robot_brain'
LEFT JOIN pg_roles o ON o.oid = n.nspowner
WHERE r.rolname = session_user`

export async function ownerState(owner: Queryable): Promise<OwnerState | null> {
  const { rows } = await owner.query<{
    login: string
    superuser: boolean
    schema_exists: boolean
    schema_owner: string | null
    owns_schema: boolean
    can_create: boolean
  }>(OWNER_STATE)
  const r = rows[0]
  if (!r) return null
  return {
    login: r.login,
    superuser: r.superuser,
    schemaExists: r.schema_exists,
    schemaOwner: r.schema_owner,
    ownsSchema: r.superuser || r.owns_schema,
    canCreateSchema: r.superuser || r.can_create,
  }
}

/** What is wrong with the owner connection's role, or null when it can do the owner's work. */
export function ownerProblem(s: OwnerState): string | null {
  const who = `migrations, keys and status connect (DATABASE_URL_UNPOOLED, or DATABASE_URL when it is unset) as "${s.login}"`
  if (s.schemaExists && !s.ownsSchema) {
    return `${who}, which does not own the robot_brain schema (its owner is "${s.schemaOwner}"): it may not migrate, manage keys, or see every tenant's rows`
  }
  if (!s.schemaExists && !s.canCreateSchema) {
    return `${who}, which may not create the robot_brain schema in this database`
  }
  return null
}

/** A ConfigError with the fix when the owner connection's role is not the owner; null otherwise. */
export async function ownerConfigError(owner: Queryable): Promise<ConfigError | null> {
  const state = await ownerState(owner)
  const problem = state && ownerProblem(state)
  return problem ? new ConfigError(`${problem}. Fix: ${OWNER_FIX}`) : null
}

/**
 * For an error of owner work: when it is "permission denied" (42501) and the owner connection's role
 * is not the owner, the ConfigError saying so (the original as its cause); otherwise `err` itself.
 */
export async function explainOwnerError(err: unknown, owner: Queryable): Promise<unknown> {
  if ((err as { code?: string })?.code !== SQLSTATE.INSUFFICIENT_PRIVILEGE) return err
  try {
    const state = await ownerState(owner)
    const problem = state && ownerProblem(state)
    if (!problem) return err
    const original = (err as Error).message
    return new ConfigError(`${problem} (${original}, SQLSTATE 42501). Fix: ${OWNER_FIX}`, { cause: err })
  } catch {
    return err
  }
}
