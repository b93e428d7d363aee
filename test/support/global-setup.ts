// vitest globalSetup: runs once in the main process before any worker starts.
//   neon       starts the WebSocket-to-TCP proxy and publishes its address (inject('neonWsProxy'))
//   pgbouncer  checks that PgBouncer answers on 127.0.0.1:6432
//   pg/neon/pgbouncer  check PostgreSQL on 127.0.0.1:5432 and create the test roles once
import type { TestProject } from 'vitest/node'
import {
  ADMIN_URL,
  backendName,
  ensureTestAppRole,
  isServerBackend,
  PG_HOST,
  PGBOUNCER_PORT,
  rawPg,
  SUPERUSER,
  WS_PROXY_ENV,
} from './backend.js'
import { startWsProxy, wsProxyAddress } from './ws-proxy.js'

async function check(url: string, hint: string): Promise<void> {
  try {
    const c = await rawPg(url)
    try {
      await c.query('select 1')
    } finally {
      await c.end()
    }
  } catch (err) {
    throw new Error(`${hint}\n  (${url}: ${(err as Error).message})`)
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const backend = backendName()
  console.log(`[robot-brain test] backend: ${backend}`)
  let teardown = async () => {}
  if (!isServerBackend(backend)) return teardown

  await check(
    ADMIN_URL,
    'PostgreSQL is not reachable on 127.0.0.1:5432; start it with: ' +
      'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  )
  await ensureTestAppRole()

  if (backend === 'pgbouncer') {
    await check(
      `postgres://${SUPERUSER}@${PG_HOST}:${PGBOUNCER_PORT}/postgres`,
      'PgBouncer is not answering on 127.0.0.1:6432; start it with: scripts/pgbouncer.sh start',
    )
  }

  if (backend === 'neon') {
    const proxy = await startWsProxy({ port: 0 })
    const addr = wsProxyAddress(proxy.port)
    project.provide('neonWsProxy', addr)
    process.env[WS_PROXY_ENV] = addr // also inherited by forked workers
    console.log(`[robot-brain test] ws proxy: ${proxy.url}`)
    teardown = () => proxy.close()
  }
  return teardown
}
