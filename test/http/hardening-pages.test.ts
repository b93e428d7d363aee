// Finding 7: big legal reads hurt everyone. 12 parallel GET .../turns?limit=200 over 100k-character
// turns made 160 MB answers and gigabytes of server memory, and another tenant's GET /v1/sessions
// took 13.7 s. Now a history page stops adding turns once its text passes LIMITS.historyPageBytes
// (4 MiB; always at least one turn) and gives a nextCursor, in the store (so the library gets it
// too), and heavy requests in flight are bounded per server and per tenant (429/503 + Retry-After).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyStore } from '../../src/keys/keys.js'
import { HeavyLimit } from '../../src/server/concurrency.js'
import { TooBusyError } from '../../src/server/errors.js'
import { LIMITS } from '../../src/store/limits.js'
import { backendName, isServerBackend, rawPg } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

const TURNS = 30
const big = (i: number, who: string) => `${who} ${i} `.padEnd(LIMITS.messageMax, 'abcdefghij')

describe(`history pages are bounded in bytes (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_page_bytes')
    const store = server.store.tenant('default')
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    for (let i = 0; i < TURNS; i++) {
      await store.recordTurn({
        sessionId: 'huge',
        robotPersonality: 'p',
        userMessage: big(i, 'user'),
        robotResponse: big(i, 'robot'),
        createdAt: new Date(t0 + i * 1000).toISOString(),
      })
    }
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('over HTTP: limit=200 of 200 kB turns answers at most the byte budget (plus one turn), with a cursor', async () => {
    const seen: string[] = []
    let before: string | null = null
    let pages = 0
    let largest = 0
    do {
      const query: string = before ? `&before=${encodeURIComponent(before)}` : ''
      const r = await server.call('GET', `/v1/sessions/huge/turns?limit=200${query}`)
      expect(r.status, r.text.slice(0, 300)).toBe(200)
      largest = Math.max(largest, Buffer.byteLength(r.text))
      expect(r.body.turns.length).toBeGreaterThanOrEqual(1)
      seen.push(...r.body.turns.map((t: { userMessage: string }) => t.userMessage.split(' ', 2).join(' ')))
      before = r.body.nextCursor
      pages++
    } while (before && pages < 50)
    console.info(`[hardening] ${TURNS} turns of 200 kB: ${pages} pages, largest answer ${largest} bytes`)
    // One turn is about 200 kB of text: the budget holds, give or take the turn that crosses it.
    expect(largest).toBeLessThanOrEqual(LIMITS.historyPageBytes + 2 * LIMITS.messageMax + 64 * 1024)
    expect(pages).toBeGreaterThan(1)
    // Every turn exactly once, newest first.
    expect(seen).toEqual(Array.from({ length: TURNS }, (_, i) => `user ${TURNS - 1 - i}`))
  })

  it('in the library: store.history ends the page at the budget and says where to go on', async () => {
    const store = server.store.tenant('default')
    const first = await store.history('huge', { limit: 200 })
    const bytes = first.turns.reduce((n, t) => n + t.userMessage.length + (t.robotResponse?.length ?? 0), 0)
    expect(first.turns.length).toBeLessThan(TURNS)
    expect(bytes - 2 * LIMITS.messageMax).toBeLessThan(LIMITS.historyPageBytes)
    expect(first.nextCursor).not.toBeNull()
    const rest = await store.history('huge', { limit: 200, before: first.nextCursor })
    expect(first.turns.length + rest.turns.length).toBe(TURNS)
    expect(rest.nextCursor).toBeNull()
    // A small limit is still a row limit.
    const three = await store.history('huge', { limit: 3 })
    expect(three.turns.length).toBe(3)
    expect(three.nextCursor).not.toBeNull()
  })
})

describe('the heavy-request limit', () => {
  it('holds a tenant to its share, the server to its total, and grants waiters in order', async () => {
    const limit = new HeavyLimit({ max: 3, perTenant: 2, queueMs: 200, queuePerTenant: 2 })
    const a1 = await limit.acquire('a')
    const a2 = await limit.acquire('a')
    // A's third waits for one of A's own slots, then gives up with 429.
    const a3 = limit.acquire('a')
    // B is not behind A's queue: a free slot is B's at once.
    const b1 = await limit.acquire('b')
    expect(limit.stats()).toEqual({ running: 3, waiting: 1 })
    const err = await a3.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TooBusyError)
    expect((err as TooBusyError).status).toBe(429)
    // The server is full: C waits, then gets the slot A gives back.
    const c1 = limit.acquire('c')
    a1()
    const releaseC = await c1
    expect(limit.stats()).toEqual({ running: 3, waiting: 0 })
    // Full again, and C holds nothing: its refusal is the server's 503.
    const d = await limit.acquire('d').catch((e: unknown) => e)
    expect((d as TooBusyError).status).toBe(503)
    // A tenant has at most queuePerTenant waiting: more get 429 at once.
    const w1 = limit.acquire('a').catch(() => 'refused')
    const w2 = limit.acquire('a').catch(() => 'refused')
    await expect(limit.acquire('a')).rejects.toMatchObject({ status: 429 })
    for (const release of [a2, b1, releaseC]) release()
    const [g1, g2] = await Promise.all([w1, w2])
    expect(typeof g1).toBe('function')
    expect(typeof g2).toBe('function')
  })
})

describe('the heavy-request limit under a steady load of one tenant', () => {
  it('queues, never refuses, clients beyond the share whose reads are fast', async () => {
    // 8 keep-alive clients of one tenant, share 4: each sends its next read as soon as the last is
    // answered, which may be before the server has given the last one's slot back.
    const limit = new HeavyLimit({ max: 8, perTenant: 4, queueMs: 2000 })
    let refused = 0
    let served = 0
    const client = async () => {
      for (let i = 0; i < 50; i++) {
        const release = await limit.acquire('only').catch(() => {
          refused++
          return null
        })
        if (!release) continue
        await new Promise((r) => setImmediate(r))
        served++
        // The slot comes back a moment later than the answer, as with reply.raw 'close'.
        setImmediate(release)
      }
    }
    await Promise.all(Array.from({ length: 12 }, client))
    expect(refused).toBe(0)
    expect(served).toBe(600)
  })
})

describe.skipIf(!isServerBackend())(
  `heavy reads of one tenant do not hold up another (${backendName()})`,
  () => {
    let server: Server
    let keyA: string
    let keyB: string
    beforeAll(async () => {
      server = await startServer('http_heavy_limit', {
        app: { authCacheMs: 0, limits: { heavy: { max: 4, perTenant: 2, queueMs: 300 } } },
      })
      const keys = new KeyStore(server.store.transport.owner)
      keyA = (await keys.create('heavy-a')).key
      keyB = (await keys.create('heavy-b')).key
      await server.call('POST', '/v1/sessions/s/turns', {
        key: keyA,
        body: { robotPersonality: 'p', userMessage: 'u', robotResponse: 'r' },
      })
      await server.call('POST', '/v1/sessions/s/turns', {
        key: keyB,
        body: { robotPersonality: 'p', userMessage: 'u', robotResponse: 'r' },
      })
    }, OPEN_TIMEOUT_MS)
    afterAll(async () => {
      await server?.cleanup()
    })

    it("A's 8 parallel history reads (held in the database): 2 run, the rest 429; B's list is served", async () => {
      // A lock on the turns table holds every history read in the database, as slow big reads would.
      const owner = await rawPg(server.db.ownerUrl)
      await owner.query('BEGIN')
      await owner.query('LOCK TABLE robot_brain.conversations IN ACCESS EXCLUSIVE MODE')
      let locked = true
      try {
        const reads = Array.from({ length: 8 }, () =>
          server.call('GET', '/v1/sessions/s/turns?limit=200', { key: keyA }),
        )
        // The refused ones answer while the lock is held, after waiting 300 ms for a slot.
        const settled: Array<{ status: number; retryAfter: string | null }> = []
        for (const r of reads) {
          void r.then((x) => settled.push({ status: x.status, retryAfter: x.headers.get('retry-after') }))
        }
        const deadline = Date.now() + 20_000
        while (settled.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
        expect(
          settled.map((s) => s.status),
          'the refusals did not come while A was held',
        ).toEqual(Array(6).fill(429))
        expect(settled.every((s) => /^\d+$/.test(s.retryAfter ?? ''))).toBe(true)
        // B, another tenant, is served meanwhile.
        const list = await server.call('GET', '/v1/sessions', { key: keyB })
        expect(list.status, list.text).toBe(200)
        expect(list.body.sessions.map((s: { id: string }) => s.id)).toEqual(['s'])
        await owner.query('COMMIT')
        locked = false
        const all = await Promise.all(reads)
        expect(all.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429, 429, 429, 429])
      } finally {
        if (locked) await owner.query('ROLLBACK').catch(() => {})
        await owner.end()
      }
    })
  },
)
