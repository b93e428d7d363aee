// Turns: exact Unicode round trip, idempotent replays, exact counts under concurrency, far dates.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConflictError, NotFoundError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import { openStore, type Store } from '../../src/store/store.js'
import type { RecordTurnResult, Turn, TurnInput } from '../../src/store/types.js'
import {
  backend,
  openTestStore,
  serverBackend,
  storeOptions,
  type TestStore,
  turnInput,
} from '../support/store.js'

// Strings that break naive code: grapheme clusters of several code points, right-to-left scripts,
// astral planes, combining marks in decomposed form (must not be normalized), invisible marks.
const TEXTS = {
  zwjFamily: '👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👩🏽‍💻 coder, 🇯🇵🇫🇷 flags, 👍🏿',
  arabic: 'مرحبا بالعالم! كيف حالك اليوم؟ ١٢٣٤',
  hebrew: 'שָׁלוֹם עוֹלָם — עִם נִקּוּד',
  mixedBidi: 'Hello \u200Fمرحبا\u200E world \u202Bשלום\u202C end',
  cjk: '你好，世界。日本語のテキスト、한국어 텍스트。𠜎𠜱𡃁 (Ext B)',
  combining: 'e\u0301 vs \u00e9; Z\u0324\u0354\u0367\u0311\u0313 zalgo; a\u0308\u0323 stacked',
  mathAlphanumeric: '𝕳𝖊𝖑𝖑𝖔 𝓦𝓸𝓻𝓵𝓭 𝟘𝟙𝟚',
  whitespace: 'line 1\nline 2\r\nline 3\ttabbed\u00a0nbsp\u2028ls\u3000ideographic space ',
  specials: '\uFEFF BOM, \uFFFD replacement, \u200B zero width, "quotes" \'single\' \\ backslash $1 %s',
}

describe(`turns (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('turns')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('Unicode round trip', () => {
    for (const [name, text] of Object.entries(TEXTS)) {
      it(`keeps ${name} exactly`, async () => {
        const sessionId = `unicode-${name}`
        const recorded = await store.recordTurn(
          turnInput(sessionId, 0, {
            userMessage: text,
            robotResponse: [...text].reverse().join(''),
            metadata: { text },
          }),
        )
        expect(recorded.userMessage).toBe(text)
        const [read] = (await store.history(sessionId)).turns
        expect(read).toEqual(recorded)
        expect(read?.userMessage).toBe(text)
        expect(read?.robotResponse).toBe([...text].reverse().join(''))
        expect(read?.metadata).toEqual({ text })
        // The database holds the same code points (not a normalized or re-encoded form).
        const [row] = await t.ownerQuery<{ n: number; bytes: number }>(
          'SELECT char_length(user_message) AS n, octet_length(user_message) AS bytes FROM robot_brain.conversations WHERE id = $1',
          [recorded.id],
        )
        expect(row).toEqual({ n: [...text].length, bytes: Buffer.byteLength(text, 'utf8') })
      })
    }

    it('keeps 100,000-character messages of 4-byte characters', async () => {
      const emoji = [...'😀🤖🎉🧠']
      const long = Array.from({ length: 100_000 }, (_, i) => emoji[i % emoji.length]).join('')
      const cjk = `${'漢'.repeat(99_999)}字`
      expect([...long]).toHaveLength(100_000)
      const recorded = await store.recordTurn(
        turnInput('unicode-long', 0, { userMessage: long, robotResponse: cjk }),
      )
      const [read] = (await store.history('unicode-long')).turns
      expect(read?.userMessage === long).toBe(true) // toBe on 200k-unit strings prints too much on failure
      expect(read?.robotResponse === cjk).toBe(true)
      const [row] = await t.ownerQuery<{ n: number; bytes: number; rn: number }>(
        `SELECT char_length(user_message) AS n, octet_length(user_message) AS bytes,
                char_length(robot_response) AS rn FROM robot_brain.conversations WHERE id = $1`,
        [recorded.id],
      )
      expect(row).toEqual({ n: 100_000, bytes: 400_000, rn: 100_000 })
    })

    it('keeps metadata with Unicode keys, nesting and every JSON type', async () => {
      const metadata = {
        ключ: 'значение',
        '🔑': ['🗝️', { مفتاح: 'قيمة', מפתח: 'ערך' }],
        'e\u0301': 'decomposed key',
        '\u00e9': 'composed key, a different key',
        键: { 嵌套: { 更深: [1, 2.5, -3, true, false, null, ''] } },
        empty: {},
        emptyList: [],
      }
      const recorded = await store.recordTurn(turnInput('unicode-meta', 0, { metadata }))
      expect(recorded.metadata).toEqual(metadata)
      const [read] = (await store.history('unicode-meta')).turns
      expect(read?.metadata).toEqual(metadata)
      expect(Object.keys(read?.metadata ?? {})).toHaveLength(Object.keys(metadata).length)
    })

    it('keeps Unicode session ids', async () => {
      const sessionId = '会话-🤖-٣-שיחה-e\u0301'
      const recorded = await store.recordTurn(turnInput(sessionId, 0))
      expect(recorded.sessionId).toBe(sessionId)
      expect((await store.getSession(sessionId)).id).toBe(sessionId)
      expect((await store.history(sessionId)).turns).toEqual([recorded])
      // The composed form is another session.
      await expect(store.getSession(sessionId.normalize('NFC'))).rejects.toThrow(/not found/)
    })
  })

  describe('idempotent retry', () => {
    it('the same id stores one turn and answers created=false with the stored turn', async () => {
      const id = newId()
      const first = await store.recordTurnResult(turnInput('retry', 1, { id, metadata: { try: 1 } }))
      expect(first.created).toBe(true)
      expect(first.turn.id).toBe(id)
      const again = await store.recordTurnResult(turnInput('retry', 1, { id, metadata: { try: 1 } }))
      expect(again).toEqual({ created: false, turn: first.turn })
      // Metadata is compared as a JSON value: key order and undefined members do not matter.
      const reordered = await store.recordTurnResult(
        turnInput('retry', 1, { id, metadata: { gone: undefined, try: 1 } }),
      )
      expect(reordered).toEqual({ created: false, turn: first.turn })
      expect((await store.getSession('retry')).messageCount).toBe(1)
      expect((await store.history('retry')).turns).toEqual([first.turn])
      const [row] = await t.ownerQuery<{ n: number }>(
        "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id = 'retry'",
      )
      expect(row?.n).toBe(1)
    })

    it('the same id with other content is a ConflictError naming the field, and changes nothing', async () => {
      const id = newId()
      const first = await store.recordTurn(turnInput('reuse', 1, { id, metadata: { try: 1 } }))
      const cases: Array<[string, Partial<TurnInput>]> = [
        ['userMessage', { userMessage: 'something else' }],
        ['robotResponse', { robotResponse: 'another answer' }],
        ['robotPersonality', { robotPersonality: 'grumpy' }],
        ['metadata', { metadata: { try: 2 } }],
        ['metadata', { metadata: {} }],
      ]
      for (const [field, change] of cases) {
        const err = await store
          .recordTurnResult(turnInput('reuse', 1, { id, metadata: { try: 1 }, ...change }))
          .catch((e: unknown) => e)
        expect(err, field).toBeInstanceOf(ConflictError)
        expect((err as ConflictError).message).toContain(field)
        expect((err as ConflictError).status).toBe(409)
      }
      // Under another session too: an id names one turn.
      const moved = await store.recordTurn(turnInput('reuse-elsewhere', 1, { id })).catch((e: unknown) => e)
      expect(moved).toBeInstanceOf(ConflictError)
      expect((moved as ConflictError).message).toContain('sessionId')
      await expect(store.getSession('reuse-elsewhere')).rejects.toThrow(NotFoundError)
      expect((await store.history('reuse')).turns).toEqual([first])
      expect((await store.getSession('reuse')).messageCount).toBe(1)
    })

    it('concurrent sends of one id with different content: one stored, the others conflict', async () => {
      const id = newId()
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.recordTurnResult(turnInput('reuse-race', i % 2, { id }))),
      )
      const created = results.filter((r) => r.status === 'fulfilled' && r.value.created)
      expect(created).toHaveLength(1)
      const winner = (created[0] as PromiseFulfilledResult<RecordTurnResult>).value.turn
      for (const r of results) {
        if (r.status === 'fulfilled') expect(r.value.turn).toEqual(winner)
        else expect(r.reason).toBeInstanceOf(ConflictError)
      }
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(3)
      expect((await store.getSession('reuse-race')).messageCount).toBe(1)
    })

    it('an upper-case id is the same id', async () => {
      const id = newId()
      const first = await store.recordTurnResult(turnInput('retry-case', 1, { id: id.toUpperCase() }))
      expect(first.turn.id).toBe(id)
      const again = await store.recordTurnResult(turnInput('retry-case', 1, { id }))
      expect(again.created).toBe(false)
      expect((await store.getSession('retry-case')).messageCount).toBe(1)
    })

    it('a non-v7 id with an explicit createdAt replays too', async () => {
      const id = randomUUID()
      const createdAt = '2026-02-03T04:05:06.789Z'
      const first = await store.recordTurnResult(turnInput('retry-v4', 1, { id, createdAt }))
      expect(first.turn.createdAt).toBe(createdAt)
      const again = await store.recordTurnResult(
        turnInput('retry-v4', 1, { id, createdAt: new Date(createdAt) }),
      )
      expect(again).toEqual({ created: false, turn: first.turn })
      expect((await store.getSession('retry-v4')).messageCount).toBe(1)
    })

    it('the same id sent with another createdAt is still the same turn', async () => {
      const id = randomUUID()
      const first = await store.recordTurnResult(
        turnInput('retry-moved', 1, { id, createdAt: '2026-03-01T00:00:00.000Z' }),
      )
      const again = await store.recordTurnResult(
        turnInput('retry-moved', 1, { id, createdAt: '2026-03-01T00:00:01.000Z' }),
      )
      expect(again).toEqual({ created: false, turn: first.turn })
      expect((await store.getSession('retry-moved')).messageCount).toBe(1)
      expect((await store.history('retry-moved')).turns).toHaveLength(1)
    })

    it('concurrent replays of one id store it once and only one says created', async () => {
      const id = newId()
      const results = await Promise.all(
        Array.from({ length: 12 }, () => store.recordTurnResult(turnInput('retry-race', 1, { id }))),
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      for (const r of results) expect(r.turn).toEqual(results[0]?.turn)
      expect((await store.getSession('retry-race')).messageCount).toBe(1)
      const [row] = await t.ownerQuery<{ n: number }>(
        "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id = 'retry-race'",
      )
      expect(row?.n).toBe(1)
    })
  })

  describe('message_count under concurrency', () => {
    const checkSession = async (s: Store, sessionId: string, expected: Turn[]) => {
      const session = await s.getSession(sessionId)
      expect(session.messageCount).toBe(expected.length)
      const [row] = await t.ownerQuery<{ n: number; m: number }>(
        `SELECT (SELECT count(*)::int FROM robot_brain.conversations WHERE session_id = $1) AS n,
                (SELECT message_count FROM robot_brain.sessions WHERE id = $1) AS m`,
        [sessionId],
      )
      expect(row).toEqual({ n: expected.length, m: expected.length })
      const newest = expected
        .map((x) => x.createdAt)
        .sort()
        .at(-1)
      expect(session.lastActive).toBe(newest)
    }

    it('50 concurrent writers to one session count exactly 50', async () => {
      const turns = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.recordTurn(turnInput('hot-session', i))),
      )
      expect(new Set(turns.map((x) => x.id)).size).toBe(50)
      await checkSession(store, 'hot-session', turns)
      const page = await store.history('hot-session', { limit: 200 })
      expect(page.turns.map((x) => x.id).sort()).toEqual(turns.map((x) => x.id).sort())
    })

    it('concurrent writers over many sessions count each exactly', async () => {
      const sessions = Array.from({ length: 20 }, (_, i) => `many-${i}`)
      const work = sessions.flatMap((s, si) =>
        Array.from({ length: 8 }, (_, i) => store.recordTurn(turnInput(s, si * 100 + i))),
      )
      const turns = await Promise.all(work)
      for (const s of sessions) {
        await checkSession(
          store,
          s,
          turns.filter((x) => x.sessionId === s),
        )
      }
    })

    it.runIf(serverBackend)(
      'two stores writing one session at once, with and without group commit',
      async () => {
        const other = await openStore(storeOptions(t.db, { groupCommit: { enabled: false } }))
        try {
          const turns = await Promise.all(
            Array.from({ length: 60 }, (_, i) =>
              (i % 2 ? store : other).recordTurn(turnInput('two-stores', i)),
            ),
          )
          await checkSession(store, 'two-stores', turns)
        } finally {
          await other.close()
        }
      },
    )
  })

  describe('time range', () => {
    const partitionOf = async (id: string) =>
      (
        await t.ownerQuery<{ p: string }>(
          'SELECT tableoid::regclass::text AS p FROM robot_brain.conversations WHERE id = $1',
          [id],
        )
      ).map((r) => r.p)

    it('stores turns 5 years ago and 2 years ahead (default partition) and pages through them', async () => {
      const now = Date.now()
      const past = new Date(now - 5 * 365 * 86_400_000).toISOString()
      const future = new Date(now + 2 * 365 * 86_400_000).toISOString()
      const old = await store.recordTurn(turnInput('far-dates', 1, { createdAt: past }))
      const ahead = await store.recordTurn(turnInput('far-dates', 2, { createdAt: future }))
      const current = await store.recordTurn(turnInput('far-dates', 3))
      expect(old.createdAt).toBe(past)
      expect(ahead.createdAt).toBe(future)
      expect(await partitionOf(old.id)).toEqual(['robot_brain.conversations_default'])
      expect(await partitionOf(ahead.id)).toEqual(['robot_brain.conversations_default'])
      const month = new Date(current.createdAt).toISOString().slice(0, 7).replace('-', '_')
      expect(await partitionOf(current.id)).toEqual([`robot_brain.conversations_p${month}`])
      const page = await store.history('far-dates')
      expect(page.turns.map((x) => x.id)).toEqual([ahead.id, current.id, old.id])
      const session = await store.getSession('far-dates')
      expect(session).toMatchObject({ messageCount: 3, createdAt: past, lastActive: future })
    })

    it('routes by UTC month boundaries', async () => {
      const d = new Date()
      const nextMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))
      const lastOfThis = new Date(nextMonth.getTime() - 1)
      const a = await store.recordTurn(turnInput('month-edge', 1, { createdAt: nextMonth }))
      const b = await store.recordTurn(turnInput('month-edge', 2, { createdAt: lastOfThis }))
      const name = (x: Date) => `robot_brain.conversations_p${x.toISOString().slice(0, 7).replace('-', '_')}`
      expect(await partitionOf(a.id)).toEqual([name(nextMonth)])
      expect(await partitionOf(b.id)).toEqual([name(lastOfThis)])
    })
  })
})
