// store.context: the newest turns within a real token budget (gpt-tokenizer), oldest first, plus
// older turns relevant to a query, never over maxTokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError, ValidationError } from '../../src/errors.js'
import { turnTokens } from '../../src/search/tokens.js'
import type { Store } from '../../src/store/store.js'
import { estimateTokens as countTokens } from '../../src/store/tokens.js'
import type { Turn } from '../../src/store/types.js'
import { TestEmbedder } from '../support/embedder.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

describe(`context (${backend})`, () => {
  let t: TestStore
  let store: Store
  const turns: Turn[] = []

  beforeAll(async () => {
    t = await openTestStore('context', { options: { embedder: new TestEmbedder() } })
    store = t.store
    const base = Date.parse('2026-05-01T00:00:00Z')
    for (let i = 0; i < 30; i++) {
      const topic =
        i === 3 ? 'my sister Marguerite lives in Lyon' : `small talk number ${i} about the weather`
      turns.push(
        await store.recordTurn(
          turnInput('ctx', i, {
            userMessage: topic,
            robotResponse: `noted, turn ${i}`,
            createdAt: new Date(base + i * 60_000).toISOString(),
          }),
        ),
      )
    }
    await store.embedPending()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('counts tokens with a real tokenizer, special-token text included', () => {
    expect(countTokens('hello world')).toBe(2)
    expect(countTokens('<|endoftext|>')).toBeGreaterThan(1)
    expect(turnTokens({ userMessage: 'hello world', robotResponse: null })).toBe(6)
  })

  it('returns the newest turns that fit, oldest first, within maxTokens', async () => {
    const per = turnTokens(turns[29] as Turn)
    const budget = per * 5 + 1
    const ctx = await store.context('ctx', { maxTokens: budget })
    expect(ctx.recent.map((x) => x.id)).toEqual(turns.slice(-ctx.recent.length).map((x) => x.id))
    expect(ctx.recent.length).toBeGreaterThanOrEqual(4)
    expect(ctx.tokens).toBe(ctx.recent.reduce((s, x) => s + turnTokens(x), 0))
    expect(ctx.tokens).toBeLessThanOrEqual(budget)
    expect(ctx.relevant).toEqual([])
    const all = await store.context('ctx', { maxTokens: 100_000 })
    expect(all.recent).toHaveLength(30)
  })

  it('adds older turns relevant to a query, within the same budget', async () => {
    const budget = turnTokens(turns[29] as Turn) * 6
    const ctx = await store.context('ctx', { maxTokens: budget, query: 'Marguerite Lyon' })
    expect(ctx.relevant[0]?.turn.id).toBe(turns[3]?.id)
    expect(ctx.recent.map((x) => x.id)).not.toContain(turns[3]?.id)
    expect(ctx.recent.at(-1)?.id).toBe(turns[29]?.id)
    const counted = [...ctx.recent, ...ctx.relevant.map((r) => r.turn)].reduce((s, x) => s + turnTokens(x), 0)
    expect(ctx.tokens).toBe(counted)
    expect(ctx.tokens).toBeLessThanOrEqual(budget)
  })

  it('refuses bad input naming the field; a missing session is not found', async () => {
    await expect(store.context('ctx', { maxTokens: 0 })).rejects.toMatchObject({ field: 'maxTokens' })
    await expect(store.context('ctx', { query: 'x'.repeat(2000) })).rejects.toBeInstanceOf(ValidationError)
    await expect(store.context('', {})).rejects.toMatchObject({ field: 'sessionId' })
    await expect(store.context('nobody', {})).rejects.toBeInstanceOf(NotFoundError)
  })
})
