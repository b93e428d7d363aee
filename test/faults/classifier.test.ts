// The error classifier and the retry loop. Real errors where the machine can make them (a refused
// port, a terminated backend, a statement timeout, Neon's waking error from the refusing proxy, a
// syntax error); the shapes of the rest as the drivers document them.
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import ws from 'ws'
import { optionsFromEnv, resolveConfig } from '../../src/config.js'
import { backoffDelay, deleteAttempts, retryReason, withRetry } from '../../src/db/retry.js'
import { fromWebSocketEvent, WebSocketConnectionError } from '../../src/db/websocket-errors.js'
import { UnavailableError } from '../../src/errors.js'
import { ADMIN_URL, backendName } from '../support/backend.js'
import { freePort } from '../support/faults/cluster.mjs'
import { startTcpProxy } from '../support/faults/tcp-proxy.mjs'

const OPTIONS = { budgetMs: 1_000, baseDelayMs: 10, maxDelayMs: 50 }

async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a failure')
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  // A bounded connect: a hang fails the test with a timeout error, not the test's own 60 s limit.
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  c.on('error', () => {})
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end().catch(() => {})
  }
}

describe('retryReason: documented error shapes', () => {
  it.each([
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, 'server_shutdown'],
    [{ code: '57P02' }, 'server_shutdown'],
    [{ code: '57P03', message: 'the database system is starting up' }, 'server_shutdown'],
    [{ code: '57P05' }, 'server_shutdown'],
    [{ code: '25P03' }, 'server_shutdown'],
    [{ code: '08006' }, 'connection'],
    [{ code: '08003' }, 'connection'],
    [{ code: '08P01', message: 'server conn crashed?' }, 'connection'],
    [{ code: '53300' }, 'too_many_connections'],
    [{ code: '40001' }, 'transaction_conflict'],
    [{ code: '40P01' }, 'transaction_conflict'],
    [{ code: 'XX000', message: "Couldn't connect to compute node" }, 'compute_unreachable'],
    [{ code: 'ECONNRESET', message: 'read ECONNRESET' }, 'socket'],
    [{ code: 'ETIMEDOUT' }, 'socket'],
    [new Error('Connection terminated unexpectedly'), 'connection'],
    [new Error('timeout exceeded when trying to connect'), 'connection'],
    [new Error('WebSocket was closed before the connection was established'), 'connection'],
  ])('%o → %s', (err, reason) => {
    expect(retryReason(err)).toBe(reason)
  })

  it.each([
    [{ code: 'XX000', message: 'tuple concurrently updated' }],
    // A statement's own SQLSTATE is final whatever its message says.
    [{ code: '23505', message: 'duplicate key; connection terminated' }],
    [{ code: '57014', message: 'canceling statement due to statement timeout' }],
    [{ code: '42501', message: 'permission denied' }],
    [new Error('WebSocket constructor is missing')],
    [new TypeError('x is not a function')],
    [null],
    ['ECONNRESET'],
  ])('%o is final', (err) => {
    expect(retryReason(err)).toBeNull()
  })

  it('follows AggregateError (several addresses tried) and causes, but never retries an UnavailableError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
    expect(retryReason(new AggregateError([refused], 'all failed'))).toBe('socket')
    expect(retryReason(new Error('query failed', { cause: refused }))).toBe('socket')
    expect(retryReason(new UnavailableError('budget spent', { cause: refused }))).toBeNull()
  })

  it("follows a WebSocket ErrorEvent's socket error (the Neon driver rejects with the event)", () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
    const event = { type: 'error', message: refused.message, error: refused }
    expect(retryReason(event)).toBe('socket')
    expect(fromWebSocketEvent(event)).toMatchObject({ code: 'ECONNREFUSED', cause: refused })
    const badCert = Object.assign(new Error('self-signed certificate'), {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    })
    expect(retryReason({ type: 'error', message: badCert.message, error: badCert })).toBeNull()
    expect(fromWebSocketEvent(badCert)).toBe(badCert) // an Error stays as it is
  })
})

describe.skipIf(backendName() !== 'pg')('retryReason: real errors', () => {
  it('a refused port is a socket error', async () => {
    const port = await freePort()
    const err = await failure(() =>
      withClient(`postgres://postgres@127.0.0.1:${port}/postgres`, async () => {}),
    )
    expect(retryReason(err)).toBe('socket')
  })

  it('a refused WebSocket (Neon driver) is a socket error, and becomes an Error with its code', async () => {
    const port = await freePort()
    neonConfig.webSocketConstructor = ws
    const saved = { wsProxy: neonConfig.wsProxy, useSecureWebSocket: neonConfig.useSecureWebSocket }
    neonConfig.wsProxy = (host, p) => `127.0.0.1:${port}/v1?address=${host}:${p}`
    neonConfig.useSecureWebSocket = false
    const pool = new NeonPool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
    pool.on('error', () => {})
    try {
      const raw = await failure(() => pool.query('SELECT 1'))
      // What the driver gives: an event object, not an Error, without a code of its own.
      expect(raw).not.toBeInstanceOf(Error)
      expect((raw as { code?: unknown }).code).toBeUndefined()
      expect(retryReason(raw)).toBe('socket')
      const err = fromWebSocketEvent(raw)
      expect(err).toBeInstanceOf(WebSocketConnectionError)
      expect(err).toMatchObject({ code: 'ECONNREFUSED' })
      expect(retryReason(err)).toBe('socket')
    } finally {
      await pool.end().catch(() => {})
      Object.assign(neonConfig, saved)
    }
  })

  it("Neon's waking error, served by the refusing proxy, is compute_unreachable", async () => {
    const proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: 5432 } })
    try {
      const waking = proxy.wake({ wakingMs: 1_000 })
      await new Promise((r) => setTimeout(r, 100))
      const err = await failure(() => withClient(proxy.url('postgres'), async () => {}))
      expect(err).toMatchObject({ code: 'XX000' })
      expect(retryReason(err)).toBe('compute_unreachable')
      await waking
    } finally {
      await proxy.close()
    }
  })

  it('a terminated backend is server_shutdown; statement timeout and syntax errors are final', async () => {
    await withClient(ADMIN_URL, async (victim) => {
      const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
      const sleeping = failure(() => victim.query('SELECT pg_sleep(10)'))
      await new Promise((r) => setTimeout(r, 100))
      await withClient(ADMIN_URL, (killer) => killer.query('SELECT pg_terminate_backend($1)', [pid]))
      const err = await sleeping
      expect(retryReason(err)).toBe('server_shutdown')
    })
    await withClient(ADMIN_URL, async (c) => {
      await c.query('SET statement_timeout = 50')
      const timeout = await failure(() => c.query('SELECT pg_sleep(1)'))
      expect(timeout).toMatchObject({ code: '57014' })
      expect(retryReason(timeout)).toBeNull()
      const syntax = await failure(() => c.query('SELEC 1'))
      expect(retryReason(syntax)).toBeNull()
    })
  })
})

describe('withRetry', () => {
  it('never retries an error of the statement', async () => {
    let calls = 0
    const err = await failure(() =>
      withRetry(async () => {
        calls++
        throw Object.assign(new Error('duplicate key'), { code: '23505' })
      }, OPTIONS),
    )
    expect(calls).toBe(1)
    expect(err).toMatchObject({ code: '23505' })
  })

  it('retries connection failures until they pass, telling onRetry why', async () => {
    const reasons: string[] = []
    const result = await withRetry(
      async (attempt) => {
        if (attempt < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' })
        return attempt
      },
      OPTIONS,
      { onRetry: (_e, _n, _d, reason) => reasons.push(reason) },
    )
    expect(result).toBe(3)
    expect(reasons).toEqual(['socket', 'socket', 'socket'])
  })

  it('gives up with a 503 UnavailableError within the budget, keeping the cause', async () => {
    const started = Date.now()
    let calls = 0
    const err = await failure(() =>
      withRetry(async () => {
        calls++
        throw Object.assign(new Error('terminating connection'), { code: '57P01' })
      }, OPTIONS),
    )
    const elapsed = Date.now() - started
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as UnavailableError).status).toBe(503)
    expect((err as Error).cause).toMatchObject({ code: '57P01' })
    expect(elapsed).toBeLessThanOrEqual(OPTIONS.budgetMs + 100)
    expect(calls).toBeGreaterThan(5)
  })

  it('backs off exponentially with full jitter under the ceiling', () => {
    const top = () => 0.999999
    expect(
      [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, { baseDelayMs: 100, maxDelayMs: 2_000 }, top)),
    ).toEqual([99, 199, 399, 799, 1599, 1999])
    expect(backoffDelay(5, { baseDelayMs: 100, maxDelayMs: 2_000 }, () => 0)).toBe(0)
  })
})

describe('retry configuration', () => {
  it('defaults fit Neon, and DATABASE_RETRY_* override only what they set', () => {
    const url = 'postgres://app@127.0.0.1:5432/db'
    const defaults = resolveConfig(optionsFromEnv({ DATABASE_URL: url }))
    expect(defaults.connectTimeoutMs).toBe(15_000)
    expect(defaults.retry).toEqual({ budgetMs: 20_000, baseDelayMs: 100, maxDelayMs: 2_000 })
    const tuned = resolveConfig(
      optionsFromEnv({
        DATABASE_URL: url,
        DATABASE_RETRY_BUDGET_MS: '5000',
        DATABASE_RETRY_MAX_DELAY_MS: '500',
      }),
    )
    expect(tuned.retry).toEqual({ budgetMs: 5_000, baseDelayMs: 100, maxDelayMs: 500 })
  })
})

describe('a retried delete: absent after which failure counts as deleted', () => {
  const options = { budgetMs: 5_000, baseDelayMs: 1, maxDelayMs: 2 }
  // The first attempt fails with `err`; the second finds the row gone.
  const run = (err: Error & { code?: string }) => {
    let calls = 0
    return withRetry(
      deleteAttempts(async () => {
        calls++
        if (calls === 1) throw err
        return false
      }),
      options,
    )
  }
  const withCode = (code: string, message = code) => Object.assign(new Error(message), { code })

  it('after a lost connection (the delete may have committed): deleted', async () => {
    await expect(run(withCode('ECONNRESET'))).resolves.toBe(true)
    await expect(run(withCode('57P01', 'terminating connection'))).resolves.toBe(true)
  })

  it('after a deadlock or serialization failure (rolled back): someone else deleted it', async () => {
    await expect(run(withCode('40P01', 'deadlock detected'))).resolves.toBe(false)
    await expect(run(withCode('40001', 'could not serialize access'))).resolves.toBe(false)
  })
})
