// README claim (Neon section and Troubleshooting): a privileged login through a transaction-mode
// pooler is refused, with the message the README shows, because the store cannot switch roles per
// session there. Privileged means a superuser, a BYPASSRLS role or the schema's owner. The message
// is checked against the README's own text, so the two cannot drift apart.
//   pgbouncer  through a real PgBouncer in transaction mode (the shared one, and a private one that
//              knows the extra login roles)
//   pg, neon   the same server said to be pooled (DATABASE_POOLED=true): the store trusts the setting
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { openStore } from '../../src/store/store.js'
import { type FreshDatabase, PG_PORT, rawPg, runtimeRoleOf, SUPERUSER } from '../support/backend.js'
import { type PrivatePgBouncer, startPrivatePgBouncer } from '../support/faults/pgbouncer.mjs'
import { backend, freshTestDatabase, serverBackend, storeOptions } from '../support/store.js'

const ROOT = join(import.meta.dirname, '../..')

/** The README's Troubleshooting line for this refusal, as a pattern for one login and one reason. */
function readmeMessage(login: string, reason: 'bypasses row-level security' | 'owns the schema'): RegExp {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const line = readme.split('\n').find((l) => l.includes('through a transaction-mode pooler ...`'))
  const shown = line?.match(/^\| `([^`]+)`/)?.[1]
  expect(shown, 'the README shows the refusal message in Troubleshooting').toBeDefined()
  const [head, tail] = (shown as string).split(' ...')
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const pattern = literal(head as string)
    .replace(literal('"neondb_owner"'), literal(`"${login}"`))
    .replace(literal('bypasses row-level security / owns the schema'), literal(reason))
  expect(pattern, 'the README names the login and both reasons').toContain(literal(reason))
  expect(tail).toBe('')
  return new RegExp(`^${pattern}`)
}

async function refusal(options: Parameters<typeof openStore>[0]): Promise<ConfigError> {
  const store = await openStore({ ...options, embedder: null, retry: { budgetMs: 5_000 } })
  try {
    const err = await store.ready().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err, 'the store must refuse the privileged pooled login').toBeInstanceOf(ConfigError)
    // Every application call meets the same refusal, not a half-working store.
    await expect(store.getSession('anything')).rejects.toBeInstanceOf(ConfigError)
    return err as ConfigError
  } finally {
    await store.close()
  }
}

describe.runIf(serverBackend)(`a privileged login through a transaction-mode pooler (${backend})`, () => {
  let db: FreshDatabase
  let bouncer: PrivatePgBouncer | undefined
  const suffix = Math.random().toString(36).slice(2, 8)
  const BYPASS = `rb_claims_bypass_${suffix}`
  const OWNER = `rb_claims_owner_${suffix}`

  const admin = async (sql: string, url = db.ownerUrl) => {
    const c = await rawPg(url)
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }

  beforeAll(async () => {
    db = await freshTestDatabase('claims pooler', true)
    const setup = await openStore({ ...storeOptions(db), url: db.ownerUrl, driver: 'pg', embedder: null })
    await setup.migrate()
    await setup.close()
    // Members of the runtime role: allowed to connect, refused only for what they are.
    await admin(`CREATE ROLE ${BYPASS} LOGIN NOSUPERUSER BYPASSRLS IN ROLE ${runtimeRoleOf(db)}`)
    await admin(`CREATE ROLE ${OWNER} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE ${runtimeRoleOf(db)}`)
    if (backend === 'pgbouncer') {
      bouncer = await startPrivatePgBouncer({ targetPort: PG_PORT, users: [SUPERUSER, BYPASS, OWNER] })
    }
  })
  afterAll(async () => {
    await bouncer?.destroy()
    await db?.drop()
    for (const role of [BYPASS, OWNER])
      await admin(`DROP ROLE IF EXISTS ${role}`, db.ownerUrl.replace(/\/[^/]*$/, '/postgres'))
  })

  /** The app URL logging in as `login`: through PgBouncer, or said to be pooled. */
  const pooledAs = (login: string) => {
    if (backend === 'pgbouncer') {
      const url = bouncer ? bouncer.url(db.name, login) : ''
      return { ...storeOptions(db), url }
    }
    const u = new URL(db.ownerUrl)
    u.username = login
    return { ...storeOptions(db), url: u.toString(), pooled: true }
  }

  it('a superuser: refused, "bypasses row-level security", the fix named', async () => {
    const err = await refusal(pooledAs(SUPERUSER))
    expect(err.message).toMatch(readmeMessage(SUPERUSER, 'bypasses row-level security'))
    expect(err.message).toContain(`IN ROLE ${runtimeRoleOf(db)}`)
    expect(err.message).toContain('DATABASE_URL_UNPOOLED')
  })

  it.runIf(backend === 'pgbouncer')(
    'the shared PgBouncer on port 6432 is recognised as a pooler without being told',
    async () => {
      const err = await refusal({
        ...storeOptions(db),
        url: `postgres://${SUPERUSER}@127.0.0.1:6432/${db.name}`,
      })
      expect(err.message).toMatch(readmeMessage(SUPERUSER, 'bypasses row-level security'))
    },
  )

  it('a BYPASSRLS role: refused the same way', async () => {
    const err = await refusal(pooledAs(BYPASS))
    expect(err.message).toMatch(readmeMessage(BYPASS, 'bypasses row-level security'))
  })

  it('the schema\'s owner (no superuser, a member of the app role): refused, "owns the schema"', async () => {
    await admin(`ALTER SCHEMA robot_brain OWNER TO ${OWNER}`)
    try {
      const err = await refusal(pooledAs(OWNER))
      expect(err.message).toMatch(readmeMessage(OWNER, 'owns the schema'))
    } finally {
      await admin(`ALTER SCHEMA robot_brain OWNER TO ${SUPERUSER}`)
    }
  })
})
