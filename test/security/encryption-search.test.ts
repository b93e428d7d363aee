// Semantic search of an encrypted tenant, by its opt-in only: the embedding worker opens the texts of
// a tenant that chose semantic search (so its vectors are of the words, not the ciphertext) and embeds
// nothing of one that did not; results come back opened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestEmbedder } from '../support/embedder.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'
import { MASTER } from './encryption-support.js'

const TIMEOUT = 240_000

describe(`encryption and semantic search (${backend})`, () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore('security_encryption_search', {
      options: { masterKey: MASTER, embedder: new TestEmbedder() },
    })
  }, TIMEOUT)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('embeds an opted-in tenant from its plain text, and nothing of a tenant that did not opt in', async () => {
    const yes = t.store.tenant('sem_yes')
    const no = t.store.tenant('sem_no')
    await yes.encryption.enable({ semanticSearch: true })
    await no.encryption.enable()
    await yes.recordTurn(
      turnInput('y', 1, { userMessage: 'bananas and apples', robotResponse: 'fruit salad' }),
    )
    await yes.recordTurn(turnInput('y', 2, { userMessage: 'rockets to mars', robotResponse: 'space travel' }))
    await no.recordTurn(
      turnInput('n', 1, { userMessage: 'bananas and apples', robotResponse: 'fruit salad' }),
    )
    await t.store.embedPending()
    const counts = await t.ownerQuery<{ tenant_id: string; n: number }>(
      `SELECT tenant_id, count(*)::int AS n FROM robot_brain.embeddings WHERE tenant_id LIKE 'sem_%' GROUP BY 1 ORDER BY 1`,
    )
    expect(counts).toEqual([{ tenant_id: 'sem_yes', n: 2 }])
    const found = await yes.search({ query: 'bananas apples', mode: 'semantic', limit: 1 })
    expect(found.mode).toBe('semantic')
    expect(found.results[0]?.turn.userMessage).toBe('bananas and apples')
    expect(found.results[0]?.snippet).toContain('fruit salad')
    const context = await yes.context('y', { query: 'rockets' })
    expect(JSON.stringify(context)).toContain('rockets to mars')
    expect(JSON.stringify(context)).not.toContain('rbenc1:')
  })
})
