// History oldest first (keyset pages forward), and turns as chat messages: order, roles, pending
// turns, the turn limit, paging back, the token budget; unknown fields refused by the library.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import { estimateMessageTokens, estimateTokens, MESSAGE_OVERHEAD_TOKENS } from '../../src/store/tokens.js'
import type { ChatMessage, Turn } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const BASE = Date.parse('2026-02-01T10:00:00.000Z')
const at = (i: number) => new Date(BASE + i * 1000).toISOString()

async function fieldError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ValidationError)
  return (err as ValidationError).field
}

describe(`history oldest first and chat messages (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('messages')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('history order asc', () => {
    let turns: Turn[]
    beforeAll(async () => {
      turns = []
      // 7 turns; two share a createdAt, so ties are broken by id across page boundaries.
      for (let i = 0; i < 7; i++) {
        turns.push(
          await store.recordTurn(
            turnInput('asc', i, { createdAt: at(i === 4 ? 3 : i), userMessage: `q${i}` }),
          ),
        )
      }
    })
    const keyOrder = (xs: Turn[]) =>
      [...xs]
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
        .map((x) => x.id)

    it('pages oldest first with after; every turn once; null on the last page', async () => {
      const seen: string[] = []
      let after: string | null = null
      let pages = 0
      do {
        const page = await store.history('asc', { order: 'asc', limit: 2, after })
        seen.push(...page.turns.map((x) => x.id))
        after = page.nextCursor
        pages++
        expect(pages, 'paging did not end').toBeLessThan(10)
      } while (after)
      expect(seen).toEqual(keyOrder(turns))
      expect(pages).toBe(4)
      // Newest first is the exact reverse.
      const desc = await store.history('asc', { limit: 200 })
      expect(desc.turns.map((x) => x.id)).toEqual(keyOrder(turns).reverse())
      expect(desc.nextCursor).toBeNull()
    })

    it('a page ending exactly at the newest turn has no cursor; new turns appear on later pages', async () => {
      const all = await store.history('asc', { order: 'asc', limit: 7 })
      expect(all.turns).toHaveLength(7)
      expect(all.nextCursor).toBeNull()
      const first = await store.history('asc', { order: 'asc', limit: 6 })
      const later = await store.recordTurn(turnInput('asc', 9, { createdAt: at(50) }))
      const rest = await store.history('asc', { order: 'asc', limit: 6, after: first.nextCursor })
      expect(rest.turns.map((x) => x.id)).toEqual([keyOrder(turns).at(-1), later.id])
      turns.push(later)
    })

    it('refuses a cursor of the other direction and an unknown order, naming the field', async () => {
      const page = await store.history('asc', { limit: 1 })
      expect(page.nextCursor).not.toBeNull()
      expect(await fieldError(store.history('asc', { order: 'asc', before: page.nextCursor }))).toBe('before')
      expect(await fieldError(store.history('asc', { after: page.nextCursor }))).toBe('after')
      expect(await fieldError(store.history('asc', { order: 'up' as unknown as 'asc', limit: 1 }))).toBe(
        'order',
      )
      expect(await fieldError(store.history('asc', { order: 'asc', after: 'bm90IGEgY3Vyc29y' }))).toBe(
        'after',
      )
    })
  })

  describe('messages', () => {
    const turnsOf = async (
      sessionId: string,
      n: number,
      extra: (i: number) => Partial<Turn> = () => ({}),
    ) => {
      const out: Turn[] = []
      for (let i = 0; i < n; i++) {
        out.push(
          await store.recordTurn(
            turnInput(sessionId, i, {
              createdAt: at(i),
              userMessage: `q${i}`,
              robotResponse: `a${i}`,
              ...extra(i),
            }),
          ),
        )
      }
      return out
    }
    const chat = (xs: Turn[]): ChatMessage[] =>
      xs.flatMap((x) => [
        { role: 'user' as const, content: x.userMessage, turnId: x.id, createdAt: x.createdAt },
        ...(x.robotResponse === null
          ? []
          : [{ role: 'assistant' as const, content: x.robotResponse, turnId: x.id, createdAt: x.createdAt }]),
      ])

    it('gives the newest turns as user/assistant messages in chat order; limit counts turns', async () => {
      const turns = await turnsOf('chat', 5)
      const all = await store.messages('chat')
      expect(all).toEqual({ messages: chat(turns), nextCursor: null })
      const last2 = await store.messages('chat', { limit: 2 })
      expect(last2.messages).toEqual(chat(turns.slice(3)))
      expect(last2.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
      // Paging back with nextCursor as before: the two turns before those, then the first alone.
      const prev = await store.messages('chat', { limit: 2, before: last2.nextCursor })
      expect(prev.messages).toEqual(chat(turns.slice(1, 3)))
      const first = await store.messages('chat', { limit: 2, before: prev.nextCursor })
      expect(first).toEqual({ messages: chat(turns.slice(0, 1)), nextCursor: null })
    })

    it('a turn awaiting its answer gives only its user message, until completed', async () => {
      const [done] = await turnsOf('chat-pending', 1)
      const pending = await store.recordTurn(
        turnInput('chat-pending', 1, {
          createdAt: at(1),
          userMessage: 'still thinking?',
          robotResponse: null,
        }),
      )
      expect((await store.messages('chat-pending')).messages).toEqual(chat([done as Turn, pending]))
      expect((await store.messages('chat-pending')).messages.at(-1)).toMatchObject({
        role: 'user',
        content: 'still thinking?',
      })
      const completed = await store.completeTurn('chat-pending', pending.id, { robotResponse: 'yes' })
      expect((await store.messages('chat-pending')).messages.slice(-2)).toEqual(chat([completed]))
    })

    it('maxTokens drops the oldest whole turns until the estimate fits', async () => {
      const turns = await turnsOf('chat-budget', 4, (i) => ({
        userMessage: 'u'.repeat(40 * (i + 1)),
        robotResponse: '語'.repeat(10 * (i + 1)), // a token a character
      }))
      const cost = (x: Turn) =>
        estimateMessageTokens(x.userMessage) + estimateMessageTokens(x.robotResponse ?? '')
      // 'u' × 160 is 80 tokens, '語' × 40 is 40: turn 3 costs (80 + 4) + (40 + 4) = 128; turn 2:
      // (60 + 4) + (30 + 4) = 98.
      expect(cost(turns[3] as Turn)).toBe(128)
      expect(cost(turns[2] as Turn)).toBe(98)
      const two = await store.messages('chat-budget', { maxTokens: 128 + 98 })
      expect(two.messages).toEqual(chat(turns.slice(2)))
      // The dropped turns stay reachable: nextCursor reads from the oldest turn kept.
      expect(two.nextCursor).not.toBeNull()
      const older = await store.messages('chat-budget', { before: two.nextCursor })
      expect(older).toEqual({ messages: chat(turns.slice(0, 2)), nextCursor: null })
      const one = await store.messages('chat-budget', { maxTokens: 128 + 98 - 1 })
      expect(one.messages).toEqual(chat(turns.slice(3)))
      const none = await store.messages('chat-budget', { maxTokens: 127 })
      expect(none).toEqual({ messages: [], nextCursor: null })
      const total = turns.reduce((n, x) => n + cost(x), 0)
      expect(await store.messages('chat-budget', { maxTokens: total })).toEqual({
        messages: chat(turns),
        nextCursor: null,
      })
    })

    it('counts tokens with o200k_base (as context does), plus a per-message overhead', () => {
      expect(estimateTokens('')).toBe(0)
      expect(estimateTokens('hello world')).toBe(2)
      expect(estimateTokens('😀')).toBe(1)
      // A byte estimate would say 3: CJK costs a token a character here.
      expect(estimateTokens('語語語語')).toBe(4)
      // Special-token text is ordinary text, never an error.
      expect(estimateTokens('<|endoftext|>')).toBeGreaterThan(1)
      expect(estimateMessageTokens('hello world')).toBe(2 + MESSAGE_OVERHEAD_TOKENS)
    })

    it('an unknown session has no messages; bad options name the field', async () => {
      expect(await store.messages('nobody-here')).toEqual({ messages: [], nextCursor: null })
      expect(await fieldError(store.messages('chat', { limit: 0 }))).toBe('limit')
      expect(await fieldError(store.messages('chat', { limit: 201 }))).toBe('limit')
      expect(await fieldError(store.messages('chat', { maxTokens: 0 }))).toBe('maxTokens')
      expect(await fieldError(store.messages('chat', { maxTokens: 1.5 }))).toBe('maxTokens')
      expect(await fieldError(store.messages('chat', { before: 'x!' }))).toBe('before')
      expect(await fieldError(store.messages('', {}))).toBe('sessionId')
    })
  })

  describe('unknown fields', () => {
    it('are refused in a turn, naming them, and nothing is written', async () => {
      const bad = { ...turnInput('unknown-fields', 1), robot_response: 'typo' }
      expect(await fieldError(store.recordTurn(bad))).toBe('robot_response')
      expect(
        await fieldError(store.recordTurn({ ...turnInput('unknown-fields', 1), userID: 'u1' } as never)),
      ).toBe('userID')
      // A field set to undefined is absent, as in JSON.
      const ok = await store.recordTurn({ ...turnInput('unknown-fields', 2), extra: undefined } as never)
      expect(ok.sessionId).toBe('unknown-fields')
      expect((await store.getSession('unknown-fields')).messageCount).toBe(1)
    })

    it('are refused in interaction events and in options', async () => {
      const event = { robotId: 'r', interactionType: 'wave', durationMs: 1, success: true }
      expect(await fieldError(store.recordInteractions([event, { ...event, duration: 5 } as never]))).toBe(
        'events[1].duration',
      )
      expect(await fieldError(store.history('chat', { limt: 5 } as never))).toBe('options.limt')
      expect(await fieldError(store.messages('chat', { max_tokens: 5 } as never))).toBe('options.max_tokens')
      expect(await fieldError(store.listSessions({ user: 'u' } as never))).toBe('options.user')
      expect(await fieldError(store.putSession('s', { metadata: {} } as never))).toBe('metadata')
      expect(
        await fieldError(
          store.completeTurn('chat', '01900000-0000-7000-8000-000000000000', { text: 'x' } as never),
        ),
      ).toBe('text')
    })
  })
})
