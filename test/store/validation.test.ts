// Every input limit of DESIGN.md: a ValidationError naming the field, and nothing written.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/store.js'
import type { TurnInput } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const CONTROL = ['\u0000', '\n', '\t', '\r', '\u001b', '\u007f', '\u0085', '\u009f']
const ASTRAL = '😀' // one character, two UTF-16 code units, four UTF-8 bytes

/** JSON metadata of exactly `bytes` bytes (UTF-8), made of `char`. */
function metadataOfBytes(bytes: number, char = 'a'): Record<string, string> {
  const overhead = Buffer.byteLength(JSON.stringify({ x: '' }))
  const per = Buffer.byteLength(char)
  const n = (bytes - overhead) / per
  if (!Number.isInteger(n)) throw new Error(`cannot make ${bytes} bytes of ${char}`)
  const m = { x: char.repeat(n) }
  expect(Buffer.byteLength(JSON.stringify(m))).toBe(bytes)
  return m
}

describe(`validation (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('validation')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  /** Runs `fn`, expects a ValidationError on `field`, and that no row changed anywhere. */
  async function rejects(field: string, fn: () => Promise<unknown>): Promise<void> {
    const before = await t.counts()
    const err = await fn().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err, `expected a ValidationError on ${field}`).toBeInstanceOf(ValidationError)
    const v = err as ValidationError
    expect(v.field).toBe(field)
    expect(v.code).toBe('validation_failed')
    expect(v.status).toBe(400)
    expect(v.message.startsWith(`${field}: `)).toBe(true)
    expect(await t.counts()).toEqual(before)
  }

  const turn = (extra: Partial<TurnInput>): TurnInput => turnInput('valid-session', 0, extra)
  const bad = (extra: Partial<TurnInput>) => () => store.recordTurn(turn(extra))

  describe('recordTurn', () => {
    it('sessionId: 1 to 100 characters, counted as code points, no control characters', async () => {
      await rejects('sessionId', bad({ sessionId: '' }))
      await rejects('sessionId', bad({ sessionId: 's'.repeat(101) }))
      await rejects('sessionId', bad({ sessionId: ASTRAL.repeat(101) }))
      await rejects('sessionId', bad({ sessionId: 42 as unknown as string }))
      await rejects('sessionId', bad({ sessionId: undefined as unknown as string }))
      await rejects('sessionId', bad({ sessionId: '\ud800lone' }))
      for (const c of CONTROL) await rejects('sessionId', bad({ sessionId: `a${c}b` }))
      // The limits themselves are fine: 100 characters, also when each is two UTF-16 units.
      for (const sessionId of ['s'.repeat(100), ASTRAL.repeat(100), 'x']) {
        const saved = await store.recordTurn(turn({ sessionId }))
        expect(saved.sessionId).toBe(sessionId)
        expect((await store.getSession(sessionId)).messageCount).toBe(1)
      }
    })

    it('robotPersonality: 1 to 50 characters, no control characters', async () => {
      await rejects('robotPersonality', bad({ robotPersonality: '' }))
      await rejects('robotPersonality', bad({ robotPersonality: 'p'.repeat(51) }))
      await rejects('robotPersonality', bad({ robotPersonality: ASTRAL.repeat(51) }))
      await rejects('robotPersonality', bad({ robotPersonality: null as unknown as string }))
      for (const c of CONTROL) await rejects('robotPersonality', bad({ robotPersonality: `p${c}` }))
      for (const robotPersonality of ['p'.repeat(50), ASTRAL.repeat(50)]) {
        expect((await store.recordTurn(turn({ robotPersonality }))).robotPersonality).toBe(robotPersonality)
      }
    })

    it('messages: up to 100,000 characters, no NUL, valid Unicode', async () => {
      for (const field of ['userMessage', 'robotResponse'] as const) {
        await rejects(field, bad({ [field]: 'm'.repeat(100_001) }))
        await rejects(field, bad({ [field]: ASTRAL.repeat(100_001) }))
        await rejects(field, bad({ [field]: 'before\u0000after' }))
        await rejects(field, bad({ [field]: '\u0000' }))
        await rejects(field, bad({ [field]: 'half a pair \ud83d' }))
        await rejects(field, bad({ [field]: { text: 'hi' } as unknown as string }))
      }
      // A user message is required; an answer may come later (a pending turn).
      await rejects('userMessage', bad({ userMessage: undefined as unknown as string }))
      // Empty and the longest are fine; other control characters are text.
      const ok = await store.recordTurn(
        turn({
          userMessage: '',
          robotResponse: `${'r'.repeat(99_991)}\u0001\u0007\u001b\t\n\r\u007f\u0085x`,
        }),
      )
      expect([...(ok.robotResponse ?? '')]).toHaveLength(100_000)
    })

    it('metadata: a JSON object up to 16 KiB, without NUL', async () => {
      await rejects('metadata', bad({ metadata: [] as unknown as Record<string, unknown> }))
      await rejects('metadata', bad({ metadata: [1, 2] as unknown as Record<string, unknown> }))
      await rejects('metadata', bad({ metadata: null as unknown as Record<string, unknown> }))
      await rejects('metadata', bad({ metadata: 'text' as unknown as Record<string, unknown> }))
      await rejects('metadata', bad({ metadata: 7 as unknown as Record<string, unknown> }))
      await rejects('metadata', bad({ metadata: metadataOfBytes(16 * 1024 + 1) }))
      await rejects('metadata', bad({ metadata: metadataOfBytes(16 * 1024 + 2, 'é') }))
      await rejects('metadata', bad({ metadata: { value: 'nul\u0000inside' } }))
      await rejects('metadata', bad({ metadata: { 'key\u0000': 1 } }))
      await rejects('metadata', bad({ metadata: { deep: { list: ['ok', 'not\u0000ok'] } } }))
      await rejects('metadata', bad({ metadata: { lone: '\udc00' } }))
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      await rejects('metadata', bad({ metadata: cyclic }))
      for (const metadata of [metadataOfBytes(16 * 1024), metadataOfBytes(16 * 1024, 'é'), {}]) {
        expect((await store.recordTurn(turn({ metadata }))).metadata).toEqual(metadata)
      }
    })

    it('id: a UUID, and a UUIDv7 unless createdAt is given', async () => {
      await rejects('id', bad({ id: 'not-a-uuid' }))
      await rejects('id', bad({ id: '' }))
      await rejects('id', bad({ id: 12 as unknown as string }))
      await rejects('id', bad({ id: `${newId()}0` }))
      await rejects('id', bad({ id: 'zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz' }))
      await rejects('id', bad({ id: randomUUID() })) // v4 without createdAt
      await rejects('id', bad({ id: '00000000-0000-0000-0000-000000000000' }))
      const v4 = randomUUID()
      expect((await store.recordTurn(turn({ id: v4, createdAt: '2026-01-01T00:00:00Z' }))).id).toBe(v4)
    })

    it('createdAt: an ISO 8601 date-time from 1970 on', async () => {
      for (const createdAt of [
        'yesterday',
        '',
        '2026-13-01T00:00:00Z',
        '01/02/2026',
        'Tue, 03 Feb 2026 10:00:00 GMT',
        '1969-12-31T23:59:59Z',
        '+010000-01-01T00:00:00Z',
        new Date(Number.NaN),
        12345 as unknown as string,
      ]) {
        await rejects('createdAt', bad({ createdAt }))
      }
      for (const createdAt of ['2026-02-03T04:05:06Z', '2026-02-03T04:05:06.7+02:00', '2026-02-03']) {
        const saved = await store.recordTurn(turn({ createdAt }))
        expect(saved.createdAt).toBe(new Date(createdAt).toISOString())
      }
    })

    it('the turn itself must be an object', async () => {
      await rejects('turn', () => store.recordTurn(null as unknown as TurnInput))
      await rejects('turn', () => store.recordTurn('turn' as unknown as TurnInput))
    })
  })

  describe('reads and session calls', () => {
    it('limits: history 1 to 200, listSessions 1 to 200', async () => {
      for (const limit of [0, 201, -1, 1.5, Number.NaN, '20x' as unknown as number]) {
        await rejects('limit', () => store.history('valid-session', { limit }))
        await rejects('limit', () => store.listSessions({ limit }))
      }
      expect((await store.history('valid-session', { limit: 200 })).turns.length).toBeGreaterThan(0)
      expect((await store.listSessions({ limit: 200 })).sessions.length).toBeGreaterThan(0)
      expect((await store.history('valid-session', { limit: 1 })).turns).toHaveLength(1)
    })

    it('session ids of every session call', async () => {
      const long = 's'.repeat(101)
      await rejects('sessionId', () => store.history(long))
      await rejects('sessionId', () => store.getSession(''))
      await rejects('sessionId', () => store.getSession('a\nb'))
      await rejects('sessionId', () => store.deleteSession(long))
      await rejects('sessionId', () => store.deleteSession('\u0000'))
      await rejects('sessionId', () => store.updateSessionMetadata(long, { a: 1 }))
      await rejects('sessionId', () => store.sessionStats({ sessionId: '' }))
    })

    it('userMetadata patches and other options', async () => {
      await rejects('userMetadata', () =>
        store.updateSessionMetadata('valid-session', [] as unknown as Record<string, unknown>),
      )
      await rejects('userMetadata', () => store.updateSessionMetadata('valid-session', { k: '\u0000' }))
      await rejects('userMetadata', () =>
        store.updateSessionMetadata('valid-session', metadataOfBytes(16 * 1024 + 1)),
      )
      await rejects('activeSince', () => store.listSessions({ activeSince: 'not a date' }))
      await rejects('limit', () => store.sessionStats({ limit: 0 }))
      expect((await store.getSession('valid-session')).userMetadata).toEqual({})
    })

    it('tenant ids', () => {
      for (const tenant of ['', 't'.repeat(65), 'has space', '-leading', 'tab\tinside', 'ünï', 'a/b']) {
        let err: unknown
        try {
          store.tenant(tenant)
        } catch (e) {
          err = e
        }
        expect(err, tenant).toBeInstanceOf(ValidationError)
        expect((err as ValidationError).field).toBe('tenant')
      }
      expect(store.tenant('t'.repeat(64)).tenantId).toBe('t'.repeat(64))
    })
  })
})
