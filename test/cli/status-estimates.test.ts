// Status on big tables: above the exact-count limit it reports the planner's estimate and says so.
// Seeding millions of rows is too slow for a test, so the limit is lowered instead (in process).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatherStatus } from '../../src/doctor/status.js'
import { runSeed } from '../../src/seed/run.js'
import { PERSONALITIES } from '../../src/seed/voices.js'
import { openStore, type Store } from '../../src/store/store.js'
import type { FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend } from './cli.js'

describe(`status row estimates (${backend})`, () => {
  let db: FreshDatabase
  let store: Store

  beforeAll(async () => {
    // PGlite: a copy of a migrated directory; the migrate below then has nothing to do.
    db = await freshTestDatabase('cli status estimates', true)
    store = await openStore(
      backend === 'pglite'
        ? { dataDir: db.dataDir }
        : { url: db.appUrl, directUrl: db.ownerUrl, driver: db.driver, neon: db.neon },
    )
    await store.migrate()
    await runSeed(store.transport.owner, 'default', {
      sessions: 20,
      turns: 6,
      events: 30,
      from: new Date('2025-05-01T00:00:00Z'),
      to: new Date('2025-07-01T00:00:00Z'),
      personalities: PERSONALITIES,
      seed: 5,
      batchSize: 50,
    })
  }, 300_000)

  afterAll(async () => {
    await store?.close()
    await db?.drop()
  })

  it('counts exactly under the limit', async () => {
    const s = await gatherStatus(store.config, store.transport.owner, store.transport.pooled)
    expect(s.tables).toEqual({
      sessions: { rows: 20, estimated: false },
      conversations: { rows: 120, estimated: false },
      robot_interactions: { rows: 30, estimated: false },
    })
  })

  it('above the limit, reports pg_class.reltuples (fresh: seed analyzes) and marks it estimated', async () => {
    const s = await gatherStatus(store.config, store.transport.owner, store.transport.pooled, 25)
    expect(s.tables?.sessions).toEqual({ rows: 20, estimated: false }) // 20 is under 25
    expect(s.tables?.conversations).toEqual({ rows: 120, estimated: true })
    expect(s.tables?.robot_interactions).toEqual({ rows: 30, estimated: true })
    const parts = s.partitions?.conversations ?? []
    expect(parts.every((p) => p.estimated)).toBe(true)
    const may = parts.find((p) => p.name === 'conversations_p2025_05')
    const june = parts.find((p) => p.name === 'conversations_p2025_06')
    expect((may?.rows ?? 0) + (june?.rows ?? 0)).toBe(120)
  })
})
