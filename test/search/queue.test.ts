// The embedding queue: filled by the turn insert itself, worked in batches, durable across a crash,
// retried with backoff when the embedder fails, and never in the way of a turn write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Embedder } from '../../src/search/embedders/embedder.js'
import { workBatch } from '../../src/search/queue.js'
import type { Store } from '../../src/store/store.js'
import { openStore } from '../../src/store/store.js'
import { TestEmbedder } from '../support/embedder.js'
import { backend, openTestStore, storeOptions, type TestStore, turnInput } from '../support/store.js'

describe(`embedding queue (${backend})`, () => {
  let t: TestStore
  let store: Store
  const embedder = new TestEmbedder()

  const queued = async (tenant: string) =>
    t.ownerQuery<{ turn_id: string; attempts: number; last_error: string | null; due: boolean }>(
      `SELECT turn_id::text, attempts, last_error, next_attempt_at <= now() AS due
       FROM robot_brain.embedding_queue WHERE tenant_id = $1 ORDER BY enqueued_at`,
      [tenant],
    )
  const vectors = async (tenant: string) =>
    (
      await t.ownerQuery<{ n: number }>(
        'SELECT count(*)::int AS n FROM robot_brain.embeddings WHERE tenant_id = $1',
        [tenant],
      )
    )[0]?.n

  beforeAll(async () => {
    t = await openTestStore('embed-queue', { options: { embedder } })
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('a turn write queues its embedding in the same statement; a batch embeds and dequeues', async () => {
    const s = store.tenant('q1')
    const turns = await Promise.all([1, 2, 3].map((n) => s.recordTurn(turnInput('q1', n))))
    expect((await queued('q1')).map((q) => q.turn_id).sort()).toEqual(turns.map((x) => x.id).sort())
    expect(await store.embeddingBacklog()).toBeGreaterThanOrEqual(3)
    await store.embedPending()
    expect(await queued('q1')).toEqual([])
    expect(await vectors('q1')).toBe(3)
    expect(await store.embeddingBacklog()).toBe(0)
  })

  it('a failing embedder never fails a write; its entries back off and are retried', async () => {
    const s = store.tenant('q2')
    embedder.failWith = new Error('provider is down')
    try {
      const turn = await s.recordTurn(turnInput('q2', 1))
      const r = await store.embedPending()
      expect(r).toMatchObject({ embedded: 0, failed: 1 })
      const [entry] = await queued('q2')
      expect(entry).toMatchObject({
        turn_id: turn.id,
        attempts: 1,
        last_error: 'provider is down',
        due: false,
      })
      // Not due yet: another run leaves it alone.
      expect((await store.embedPending()).failed).toBe(0)
      // Writes go on meanwhile.
      await s.recordTurn(turnInput('q2', 2))
    } finally {
      embedder.failWith = undefined
    }
    // The backoff runs out (moved here instead of waiting): retried and embedded.
    await t.ownerQuery(
      `UPDATE robot_brain.embedding_queue SET next_attempt_at = now() WHERE tenant_id = 'q2'`,
    )
    expect((await store.embedPending()).embedded).toBe(2)
    expect(await queued('q2')).toEqual([])
  })

  it('a worker that dies mid-batch loses nothing: the lease runs out and another worker finishes', async () => {
    const s = store.tenant('q3')
    await s.recordTurn(turnInput('q3', 1))
    let started!: () => void
    const claimed = new Promise<void>((r) => {
      started = r
    })
    const stuck: Embedder = {
      model: embedder.model,
      dimensions: embedder.dimensions,
      embed: () => {
        started()
        return new Promise(() => {}) // never answers: the process "crashed" here
      },
    }
    void workBatch(store.transport.owner, stuck, { leaseMs: 60_000 })
    await claimed
    const [entry] = await queued('q3')
    expect(entry).toMatchObject({ attempts: 1, due: false })
    expect(await vectors('q3')).toBe(0)
    await t.ownerQuery(
      `UPDATE robot_brain.embedding_queue SET next_attempt_at = now() WHERE tenant_id = 'q3'`,
    )
    await store.embedPending()
    expect(await vectors('q3')).toBe(1)
    expect(await queued('q3')).toEqual([])
  })

  it('changed text drops the stale vector and queues the turn again; empty text is never embedded', async () => {
    const s = store.tenant('q4')
    const turn = await s.recordTurn(turnInput('q4', 1))
    const blank = await s.recordTurn(turnInput('q4', 2, { userMessage: '', robotResponse: '  ' }))
    embedder.texts = []
    await store.embedPending()
    expect(embedder.texts).not.toContain('')
    expect(await vectors('q4')).toBe(1)
    expect(await queued('q4')).toEqual([])
    await t.ownerQuery(`UPDATE robot_brain.conversations SET robot_response = 'a new answer' WHERE id = $1`, [
      turn.id,
    ])
    expect(await vectors('q4')).toBe(0)
    expect((await queued('q4')).map((q) => q.turn_id)).toEqual([turn.id])
    await store.embedPending()
    expect(embedder.texts.at(-1)).toContain('a new answer')
    expect(await vectors('q4')).toBe(1)
    expect(blank.id).not.toBe(turn.id)
  })

  it('embed --backfill queues turns without a vector by the configured model (a model change)', async () => {
    const s = store.tenant('q5')
    await Promise.all([1, 2].map((n) => s.recordTurn(turnInput('q5', n))))
    await store.embedPending()
    // A store configured with another model (the embedded database admits one process: close first).
    await store.close()
    const other = await openStore(storeOptions(t.db, { embedder: new TestEmbedder('another-model') }))
    try {
      const r = await other.embedPending({ backfill: true })
      expect(r.queued).toBeGreaterThanOrEqual(2)
      // Old vectors stay; the new model's are computed alongside.
      // Through the open store's owner pool (the embedded database's only connection).
      const { rows } = await other.transport.owner.query<{ model: string; n: number }>(
        `SELECT model, count(*)::int AS n FROM robot_brain.embeddings WHERE tenant_id = 'q5' GROUP BY model ORDER BY model`,
      )
      expect(rows).toEqual([
        { model: 'another-model', n: 2 },
        { model: 'test-bow-64', n: 2 },
      ])
      const found = await other.tenant('q5').search({ query: 'user message', mode: 'semantic' })
      expect(found.results).toHaveLength(2)
      // A second backfill finds nothing missing.
      expect((await other.embedPending({ backfill: true })).queued).toBe(0)
    } finally {
      await other.close()
      store = await t.reopen()
    }
  })
})
