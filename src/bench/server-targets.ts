// Opens the server targets on the bench database: pg direct (which migrates), PgBouncer, and the
// Neon driver through the repository's local WebSocket proxy. A missing PgBouncer or proxy is
// recorded and the other targets go on.
import type { DbPool } from '../db/pool.js'
import type { RunLog } from './run-log.js'
import { type BenchDatabase, ensureAppLogin } from './server.js'
import { openTarget, type Target, type TargetName } from './targets.js'

export interface ServerTargets {
  targets: Target[]
  close(): Promise<void>
}

async function startWsProxy(): Promise<{ addr: string; close(): Promise<unknown> } | string> {
  try {
    // The repository's WebSocket-to-TCP proxy (what Neon's proxy does), beside dist/ in a checkout.
    const mod = (await import(new URL('../../scripts/ws-proxy.mjs', import.meta.url).href)) as {
      startWsProxy(o: { port: number }): Promise<{ port: number; close(): Promise<unknown> }>
    }
    const proxy = await mod.startWsProxy({ port: 0 })
    return { addr: `127.0.0.1:${proxy.port}/v1`, close: () => proxy.close() }
  } catch (err) {
    return `Neon driver skipped: the local WebSocket proxy (scripts/ws-proxy.mjs) could not start: ${(err as Error).message}`
  }
}

/** Fails now, with the reason (PgBouncer down, proxy refused), rather than in every case later. */
async function probed(t: Target): Promise<Target> {
  try {
    await t.store.history('probe', { limit: 1 })
    return t
  } catch (err) {
    await t.close().catch(() => {})
    throw err
  }
}

export async function openServerTargets(
  run: RunLog,
  names: TargetName[],
  db: BenchDatabase,
  owner: DbPool,
  appLogin: string,
): Promise<ServerTargets> {
  const targets: Target[] = []
  let proxy: { addr: string; close(): Promise<unknown> } | undefined
  const close = async () => {
    for (const t of targets) await t.close().catch(() => {})
    await proxy?.close().catch(() => {})
  }
  if (!names.includes('pg')) throw new Error('the pg target is required with a server target: it migrates')
  const pgTarget = await openTarget('pg', { db, owner })
  targets.push(pgTarget)
  await pgTarget.store.migrate()

  if (names.includes('pgbouncer')) {
    if (!db.bouncerAppUrl) run.skipped.push('PgBouncer skipped: --pgbouncer none')
    else {
      await ensureAppLogin(db.ownerUrl, appLogin, await pgTarget.store.runtimeRoleName())
      await run.step('opening PgBouncer (scripts/pgbouncer.sh start)', async () => {
        targets.push(await probed(await openTarget('pgbouncer', { db, owner })))
      })
    }
  }
  if (names.includes('neon')) {
    const p = await startWsProxy()
    if (typeof p === 'string') run.skipped.push(p)
    else {
      proxy = p
      await run.step('opening the Neon driver', async () => {
        targets.push(await probed(await openTarget('neon', { db, owner, wsProxy: p.addr })))
      })
    }
  }
  return { targets, close }
}
