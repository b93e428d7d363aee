// README claims about a database that stops answering, proven with a real fault: a TCP proxy in front
// of the test server that drops every connection and refuses new ones for longer than the retry
// budget.
//   - /metrics: robot_brain_db_retries_total (by reason), robot_brain_db_retry_give_ups_total and
//     robot_brain_db_connections_lost_total (pool error events, not swallowed) move;
//   - the 503 names the turn's id (made by the server when the request had none), and the library's
//     UnavailableError carries it as `turnId`: a resend with it is stored exactly once.
// The shared server is never stopped: only the proxy refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnavailableError } from '../../src/errors.js'
import { buildApp } from '../../src/server/app.js'
import { openStore, type Store } from '../../src/store/store.js'
import { type FreshDatabase, PG_HOST, PG_PORT } from '../support/backend.js'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.mjs'
import { backend, freshTestDatabase, turnInput } from '../support/store.js'

const BUDGET_MS = 1_000
const METRICS_TOKEN = 'claims-metrics-token-0123456789'

/** A turn as POST /v1/sessions/fault/turns takes it (the session is in the path). */
function turnBody(n: number): Record<string, unknown> {
  const { sessionId: _, ...body } = turnInput('fault', n)
  return body
}

/** The value of a Prometheus series (sum over the label sets that match), 0 when absent. */
function metric(text: string, name: string, labels = ''): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const [series, value] = line.split(' ')
    if (!series || value === undefined) continue
    if (series === name || (series.startsWith(`${name}{`) && series.includes(labels))) sum += Number(value)
  }
  return sum
}

describe.runIf(backend === 'pg')('a refusing database, seen in /metrics and in the error (pg)', () => {
  let db: FreshDatabase
  let proxy: TcpProxy
  let store: Store
  let app: Awaited<ReturnType<typeof buildApp>>

  beforeAll(async () => {
    db = await freshTestDatabase('claims fault metrics', true)
    proxy = await startTcpProxy({ target: { host: PG_HOST, port: PG_PORT } })
    store = await openStore({
      url: proxy.url(db.name),
      directUrl: db.ownerUrl,
      driver: 'pg',
      embedder: null,
      retry: { budgetMs: BUDGET_MS, baseDelayMs: 50, maxDelayMs: 200 },
      connectTimeoutMs: 2_000,
    })
    await store.migrate()
    // With a metrics token, /metrics needs no database (keyless mode asks it whether keys exist).
    app = await buildApp({ store, logger: false, allowAnonymous: true, metrics: { token: METRICS_TOKEN } })
  })
  afterAll(async () => {
    await app?.close()
    await store?.close()
    await proxy?.close()
    await db?.drop()
  })

  const metrics = async () => {
    const r = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    })
    expect(r.statusCode, r.body).toBe(200)
    return r.body
  }

  it('retries and give-ups move in /metrics; the 503 names the turn id; a resend stores it once', async () => {
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/sessions/fault/turns',
      payload: turnBody(1),
    })
    expect(ok.statusCode, ok.body).toBe(201)
    const before = await metrics()

    // Longer than the budget: the write gives up while the proxy refuses.
    const outage = proxy.wake({ refuseMs: BUDGET_MS * 4 })
    try {
      const body = turnBody(2)
      const refused = await app.inject({ method: 'POST', url: '/v1/sessions/fault/turns', payload: body })
      expect(refused.statusCode, refused.body).toBe(503)
      expect(refused.headers['retry-after']).toBeDefined()
      const error = refused.json().error as { code: string; message: string; turnId?: string }
      expect(error.code).toBe('unavailable')
      expect(error.turnId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/)
      // No internals in the answer: no address, no driver message.
      expect(refused.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/)

      const after = await metrics()
      expect(metric(after, 'robot_brain_db_retries_total')).toBeGreaterThan(
        metric(before, 'robot_brain_db_retries_total'),
      )
      expect(metric(after, 'robot_brain_db_retry_give_ups_total')).toBe(
        metric(before, 'robot_brain_db_retry_give_ups_total') + 1,
      )
      // The proxy dropped the pool's idle connection: reported, not swallowed.
      expect(metric(after, 'robot_brain_db_connections_lost_total', 'pool="app"')).toBeGreaterThan(
        metric(before, 'robot_brain_db_connections_lost_total', 'pool="app"'),
      )

      // The library says the same: UnavailableError with the id it made.
      const lib = await store.recordTurn(turnInput('fault', 3)).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(lib).toBeInstanceOf(UnavailableError)
      expect((lib as UnavailableError).turnId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/)

      await outage
      // Back: both resends with the ids from the errors store each turn once.
      const again = await app.inject({
        method: 'POST',
        url: '/v1/sessions/fault/turns',
        payload: { ...body, id: error.turnId },
      })
      expect([200, 201], again.body).toContain(again.statusCode)
      expect(again.json().id).toBe(error.turnId)
      const resent = await store.recordTurnResult({
        ...turnInput('fault', 3),
        id: (lib as UnavailableError).turnId,
      })
      expect(resent.turn.id).toBe((lib as UnavailableError).turnId)
    } finally {
      await outage
    }
    const turns = (await store.history('fault', { limit: 10 })).turns
    expect(turns.map((x) => x.userMessage).sort()).toEqual(
      [1, 2, 3].map((i) => turnInput('fault', i).userMessage).sort(),
    )
    expect((await store.getSession('fault')).messageCount).toBe(3)
  })
})
