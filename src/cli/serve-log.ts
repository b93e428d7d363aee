// What `serve` logs with: pino JSON lines, readable (pino-pretty) when standard output is a terminal;
// and the startup line saying which database (password redacted), which driver, which migrations.
import type { FastifyBaseLogger } from 'fastify'
import type { MigrateResult } from '../db/migrate.js'
import { adoptionAdvice } from '../db/runtime-role.js'
import { redactUrl } from '../db/urls.js'
import type { Store } from '../store/store.js'

export interface ServeLoggerOptions {
  level: string
  transport?: { target: string; options: Record<string, unknown> }
}

/** JSON for log collectors; on a terminal, one readable line per event. */
export function serveLoggerOptions(level: string, tty = Boolean(process.stdout.isTTY)): ServeLoggerOptions {
  if (!tty) return { level }
  return {
    level,
    transport: {
      target: 'pino-pretty',
      options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true },
    },
  }
}

/** The startup line: where the data lives, how it is reached, and the schema's migrations. */
export async function logStartup(
  log: FastifyBaseLogger,
  store: Store,
  migrated: MigrateResult,
): Promise<void> {
  const c = store.config
  const database = c.driver === 'pglite' ? c.dataDir : redactUrl(c.url as string)
  const direct = c.directUrl && c.directUrl !== c.url ? redactUrl(c.directUrl) : undefined
  const states = await store.migrationStatus()
  const migrations = states.filter((s) => s.status === 'applied').map((s) => s.name)
  const appliedNow = migrated.applied.map((m) => m.name)
  log.info(
    {
      database,
      ...(direct ? { directDatabase: direct } : {}),
      driver: c.driver,
      pooled: store.transport.pooled,
      migrations,
      appliedNow,
      runtimeRole: migrated.role?.role,
    },
    `database ${database} via ${c.driver}${store.transport.pooled ? ' (pooled)' : ''}; ` +
      `schema at ${migrations.at(-1) ?? 'none'} (${migrations.length} migrations, ` +
      `${appliedNow.length ? `applied now: ${appliedNow.join(', ')}` : 'none applied now'})`,
  )
  // What the move to a per-database runtime role left for the operator (logins of the shared role).
  for (const line of migrated.role ? adoptionAdvice(migrated.role) : []) log.warn(line)
}
