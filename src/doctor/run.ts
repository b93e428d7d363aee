// Runs every doctor check for a set of store options and returns the findings in display order.
// Never throws for a problem it can describe: a bad URL or an unreachable server is a failed check.
import { type Config, resolveConfig, type StoreOptions } from '../config.js'
import type { DbPool } from '../db/pool.js'
import { runtimeRoleFor } from '../db/runtime-role.js'
import { openStore, type Store } from '../store/store.js'
import { type Check, fail, scrub, skip } from './check.js'
import { configChecks } from './config-checks.js'
import {
  clockSkewCheck,
  connectCheck,
  EXTENSIONS,
  extensionChecks,
  runtimeRoleCheck,
  schemaCheck,
  serverVersionCheck,
} from './db-checks.js'
import { operationsChecks } from './ops-checks.js'
import { ownerRoleCheck } from './owner-checks.js'
import { sharedRoleChecks } from './role-checks.js'

function describer(urls: ReadonlyArray<string | undefined>): (err: unknown) => string {
  return (err) => {
    const e = err as { code?: string; message?: string }
    const text = e?.message || String(err)
    const withCode = e?.code && /^[0-9A-Z]{5}$/.test(e.code) ? `${text} (SQLSTATE ${e.code})` : text
    return scrub(withCode, urls)
  }
}

/** Runs `check`, or reports why it could not run. */
async function attempt(
  id: string,
  describe: (err: unknown) => string,
  check: () => Promise<Check | Check[]>,
): Promise<Check[]> {
  try {
    return [await check()].flat()
  } catch (err) {
    return [fail(id, describe(err), 'see the message; rerun doctor after fixing')]
  }
}

export async function runDoctor(options: StoreOptions): Promise<Check[]> {
  const describe = describer([options.url, options.directUrl, options.readUrl])
  let config: Config
  try {
    config = resolveConfig(options)
  } catch (err) {
    return [fail('config', describe(err), 'fix the setting named in the message')]
  }
  const checks = configChecks(config, options.directUrl !== undefined)
  let store: Store
  try {
    store = await openStore(options)
  } catch (err) {
    return [...checks, fail('connect', `cannot open the database: ${describe(err)}`, 'see the message')]
  }
  try {
    checks.push(...(await liveChecks(store, config, describe)))
  } finally {
    await store.close().catch(() => {})
  }
  return checks
}

async function liveChecks(
  store: Store,
  config: Config,
  describe: (err: unknown) => string,
): Promise<Check[]> {
  const t = store.transport
  const embedded = config.driver === 'pglite'
  const out: Check[] = []
  const app = await connectCheck(embedded ? 'connect' : 'connect (app)', t.app, describe)
  out.push(app)
  let owner = app
  if (!embedded && config.directUrl !== config.url) {
    owner = await connectCheck('connect (direct)', t.owner, describe)
    out.push(owner)
  }
  if (config.readUrl && config.readUrl !== config.url)
    out.push(await connectCheck('connect (read)', t.read, describe))

  const ownerDown = owner.status === 'fail'
  const appDown = app.status === 'fail'
  const run = async (
    id: string,
    down: boolean,
    pool: DbPool,
    check: (db: DbPool) => Promise<Check | Check[]>,
  ) => (down ? [skip(id, 'not connected')] : attempt(id, describe, () => check(pool)))

  out.push(...(await run('server-version', ownerDown, t.owner, serverVersionCheck)))
  out.push(...(await run('schema', ownerDown, t.owner, schemaCheck)))
  out.push(...(await run('owner-role', ownerDown, t.owner, ownerRoleCheck)))
  // The database's runtime role: configured, or named after the database (asked where connected).
  const roleName = () => runtimeRoleFor(ownerDown ? t.app : t.owner, config.runtimeRole)
  out.push(
    ...(await run('runtime-role', appDown, t.app, async (db) => runtimeRoleCheck(db, t, await roleName()))),
  )
  out.push(
    ...(await run('runtime-role-shared', ownerDown, t.owner, async (db) =>
      sharedRoleChecks(db, await roleName()),
    )),
  )
  if (ownerDown) out.push(...EXTENSIONS.map(([name]) => skip(`extension ${name}`, 'not connected')))
  else out.push(...(await attempt('extensions', describe, () => extensionChecks(t.owner))))
  out.push(...(await run('clock-skew', appDown, t.app, clockSkewCheck)))
  out.push(...(await run('operations', ownerDown, t.owner, (db) => operationsChecks(db, config))))
  return out
}
