// The owner connection's role (DATABASE_URL_UNPOOLED, or DATABASE_URL when unset): migrations, API
// keys, maintenance and status need the schema's owner. A login role of the runtime role given as the
// only URL connects fine and reads the migration history, so every other check passes while
// migrate, keys and status cannot work: this check says so.
import { OWNER_FIX, ownerProblem, ownerState } from '../db/owner-check.js'
import type { Queryable } from '../db/pool.js'
import { type Check, fail, ok } from './check.js'

export async function ownerRoleCheck(owner: Queryable): Promise<Check> {
  const id = 'owner-role'
  const state = await ownerState(owner)
  if (!state) return fail(id, 'the login role is not visible in pg_roles', OWNER_FIX)
  const problem = ownerProblem(state)
  if (problem) return fail(id, problem, OWNER_FIX)
  if (!state.schemaExists) {
    return ok(id, `migrations connect as "${state.login}", which may create the robot_brain schema`)
  }
  return ok(
    id,
    `migrations connect as "${state.login}", ${state.superuser ? 'a superuser' : `owner of the robot_brain schema`}`,
  )
}
