// Finding 9: internal details reached clients (a 503 said `connect ECONNREFUSED 127.0.0.1:15433` to an
// anonymous client). Now a 5xx says a generic sentence and the request id; the details go to the log,
// at error level. A 501 and a full event buffer are the client's lot, logged below error level.
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/server/app.js'
import { NotImplementedError } from '../../src/server/errors.js'
import type { InteractionBuffer } from '../../src/store/interaction-buffer.js'
import { openStore, type Store } from '../../src/store/store.js'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

interface LogLine {
  level: number
  msg: string
  reqId?: string
  err?: { message?: string }
  [k: string]: unknown
}

/** A pino destination that keeps every line, parsed. */
function logSink(): { stream: Writable; lines: LogLine[] } {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(JSON.parse(line))
      done()
    },
  })
  return { stream, lines }
}

const ERROR_LEVEL = 50

describe('a database that refuses connections: the client sees no address (any backend)', () => {
  let store: Store
  let app: FastifyInstance
  let url: string
  const sink = logSink()
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens, every connect is refused, as with a database that is down.
    store = await openStore({
      url: 'postgres://robot_brain_app@127.0.0.1:1/robot_brain',
      driver: 'pg',
      retry: { budgetMs: 300 },
    })
    app = await buildApp({ store, logger: { level: 'info' }, logStream: sink.stream, allowAnonymous: true })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await app?.close()
    await store?.close()
  })

  it('answers 503 with a generic message and the request id; the log has the details', async () => {
    const res = await fetch(`${url}/v1/sessions`, { headers: { 'x-request-id': 'trace-me-123' } })
    const text = await res.text()
    expect(res.status, text).toBe(503)
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
    const body = JSON.parse(text) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('unavailable')
    expect(body.error.message).toContain('trace-me-123')
    for (const secret of ['ECONNREFUSED', '127.0.0.1', ':1', 'connect']) expect(text).not.toContain(secret)
    const logged = sink.lines.find((l) => l.reqId === 'trace-me-123' && l.level >= ERROR_LEVEL)
    expect(logged, JSON.stringify(sink.lines.slice(-5))).toBeDefined()
    expect(JSON.stringify(logged)).toMatch(/ECONNREFUSED/)
  })
})

describe(`501 and a full buffer are logged below error level (${backendName()})`, () => {
  let server: Server
  let buffer: InteractionBuffer
  const sink = logSink()
  beforeAll(async () => {
    server = await startServer('http_error_levels', {
      app: { logger: { level: 'info' }, logStream: sink.stream },
    })
    // A second app on the same store, with a tiny buffer that writes nothing until closed.
    buffer = server.store.interactionBuffer({ maxPending: 5, flushDelayMs: 60_000, whenFull: 'reject' })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await buffer?.close()
    await server?.cleanup()
  })

  it('logs a 501 at info, not error', async () => {
    // No route of this version answers 501 any more; a route of the test's own throws the store's
    // NotImplementedError, so the mapping is still held to its promise for the next one that does.
    const app = await buildApp({
      store: server.store,
      logger: { level: 'info' },
      logStream: sink.stream,
      allowAnonymous: true,
    })
    app.get('/not-built-yet', async () => {
      throw new NotImplementedError('this feature is not available in this version')
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const res = await fetch(`${url}/not-built-yet`, { headers: { 'x-request-id': 'nyi-1' } })
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(res.status).toBe(501)
      expect(body.error.message).toMatch(/not available/)
      const mine = sink.lines.filter((l) => l.reqId === 'nyi-1')
      expect(mine.length).toBeGreaterThan(0)
      expect(mine.filter((l) => l.level >= ERROR_LEVEL)).toEqual([])
    } finally {
      await app.close()
    }
  })

  it('logs a buffer-full 503 at info, not error, and tells the client why', async () => {
    const app = await buildApp({
      store: server.store,
      logger: { level: 'info' },
      logStream: sink.stream,
      allowAnonymous: true,
      interactionBuffer: buffer,
    })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const post = (n: number, id: string) =>
        fetch(`${url}/v1/interactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({
            events: Array.from({ length: n }, () => ({
              robotId: 'r',
              interactionType: 't',
              durationMs: 1,
              success: true,
            })),
          }),
        })
      expect((await post(5, 'fill-1')).status).toBe(202)
      const full = await post(1, 'full-1')
      expect(full.status).toBe(503)
      expect(((await full.json()) as { error: { message: string } }).error.message).toMatch(/buffer is full/)
      const mine = sink.lines.filter((l) => l.reqId === 'full-1')
      expect(mine.length).toBeGreaterThan(0)
      expect(mine.filter((l) => l.level >= ERROR_LEVEL)).toEqual([])
    } finally {
      await app.close()
    }
  })
})
