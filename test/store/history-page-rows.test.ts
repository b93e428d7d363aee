// A history page reads the rows of the page, not the whole session (migration 0015): on a young
// database (the default partition, this month and three ahead) the page query's generic plan once
// read every turn of the session and sorted them to return 20.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const TURNS = 80

describe(`history page rows read (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('history-page-rows')
    const now = Date.now()
    for (let i = 0; i < TURNS; i++) {
      // One session, all in this month's partition (a second apart, ending now).
      await t.store.recordTurn(
        turnInput('long', i, { createdAt: new Date(now - (TURNS - i) * 1000).toISOString() }),
      )
    }
    await t.ownerQuery('ANALYZE robot_brain.conversations')
  })

  afterAll(async () => {
    await t?.cleanup()
  })

  it('fetches about one page of rows from the partition, in either order', async () => {
    // Index entries the partitions' indexes returned in this transaction, before and after one page.
    const FETCHED = `SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(x.indexrelid)), 0)::int AS n
                     FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid
                     WHERE i.inhparent = 'robot_brain.conversations'::regclass`
    const page = async (asc: boolean) => {
      await t.ownerQuery('BEGIN')
      try {
        const [was] = await t.ownerQuery<{ n: number }>(FETCHED)
        const rows = await t.ownerQuery<{ id: string }>(
          `SELECT id FROM robot_brain.history_page('default', 'long', $1::bigint, $2::uuid, 20, 1000000, $3)`,
          asc
            ? ['-100000000000000000', '00000000-0000-0000-0000-000000000000', true]
            : ['9000000000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', false],
        )
        const [is] = await t.ownerQuery<{ n: number }>(FETCHED)
        return { rows: rows.length, fetched: (is?.n ?? 0) - (was?.n ?? 0) }
      } finally {
        await t.ownerQuery('COMMIT')
      }
    }
    for (const asc of [false, true]) {
      const { rows, fetched } = await page(asc)
      expect(rows).toBe(20)
      // A sorted read of the whole session fetched all 80.
      expect(fetched).toBeGreaterThanOrEqual(20)
      expect(fetched).toBeLessThanOrEqual(22)
    }
  })
})
