// Fault (f): SIGTERM in the middle of a load of interaction events. Through the HTTP service: serve
// stops accepting, finishes what is in flight, flushes its buffer and exits 0; every event answered
// 202 is stored exactly once. Through the library: a process with a buffer opened with
// flushOnSignals writes everything it accepted before the signal ends it.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { uuidv7 } from 'uuidv7'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/store.js'
import { backendName, type FreshDatabase, freshDatabase } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import { startServe } from '../support/faults/serve.mjs'

const enabled = backendName() === 'pg'
const CHILD = fileURLToPath(new URL('../support/faults/buffer-child.mjs', import.meta.url))

interface EventLedger {
  acked: Set<string>
  sent: Set<string>
}

/** Each acknowledged id stored once; nothing stored that was never sent; no id twice. */
async function verifyEvents(url: string, robotId: string, ledger: EventLedger): Promise<void> {
  const owner = new pg.Client({ connectionString: url })
  await owner.connect()
  try {
    const { rows } = await owner.query<{ id: string; n: number }>(
      `SELECT id::text AS id, count(*)::int AS n FROM robot_brain.robot_interactions
       WHERE robot_id = $1 GROUP BY id`,
      [robotId],
    )
    const stored = new Map(rows.map((r) => [r.id, r.n]))
    const lost = [...ledger.acked].filter((id) => !stored.has(id))
    const duplicated = rows.filter((r) => r.n > 1).map((r) => r.id)
    const unknown = rows.filter((r) => !ledger.sent.has(r.id)).map((r) => r.id)
    const summary = { acked: ledger.acked.size, sent: ledger.sent.size, stored: stored.size }
    console.info(`[fault] ${robotId}: ${JSON.stringify({ ...summary, lost: lost.length })}`)
    expect(ledger.acked.size, JSON.stringify(summary)).toBeGreaterThanOrEqual(1000)
    expect(lost, JSON.stringify(summary)).toEqual([])
    expect(duplicated).toEqual([])
    expect(unknown).toEqual([])
  } finally {
    await owner.end()
  }
}

describe.skipIf(!enabled)('fault (f): SIGTERM during a load of interaction events', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let db: FreshDatabase

  beforeAll(async () => {
    db = await freshDatabase('fault_sigterm')
    const store = await openStore({ url: db.ownerUrl, driver: 'pg' })
    await store.migrate()
    await store.close()
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('through the HTTP service: every event answered 202 is stored, serve exits 0', async () => {
    const server = await startServe({
      env: {
        DATABASE_URL: db.ownerUrl,
        DATABASE_DRIVER: 'pg',
        // Big batches and a long delay: at SIGTERM the accepted events are still in memory, so only
        // the shutdown's flush can store them.
        ROBOT_BRAIN_INTERACTION_BATCH: '5000',
        ROBOT_BRAIN_INTERACTION_FLUSH_MS: '30000',
      },
    })
    const ledger: EventLedger = { acked: new Set(), sent: new Set() }
    const statuses: Record<string, number> = {}
    let signalled = 0
    let answeredAfterSignal = 0
    let stop = false
    const posters = Array.from({ length: 12 }, async (_, w) => {
      while (!stop) {
        const events = Array.from({ length: 20 }, (_, i) => ({
          id: uuidv7(),
          robotId: 'http-f-bot',
          interactionType: 'wave',
          durationMs: i,
          success: i % 2 === 0,
          metadata: { w },
        }))
        for (const e of events) ledger.sent.add(e.id)
        const r = await server.request('POST', '/v1/interactions', { events }).catch(() => null)
        const key = r ? String(r.status) : 'connection_error'
        statuses[key] = (statuses[key] ?? 0) + 1
        if (r?.status === 202) {
          for (const e of events) ledger.acked.add(e.id)
          if (signalled) answeredAfterSignal++
        }
        if (!r || server.exit()) return
      }
    })
    try {
      const deadline = Date.now() + 60_000
      while (ledger.acked.size < 2_000) {
        if (Date.now() > deadline || server.exit()) {
          throw new Error(
            `only ${ledger.acked.size} of 2000 events acknowledged within 60 s (serve exit: ${JSON.stringify(server.exit())}; statuses ${JSON.stringify(statuses)}):\n${server.output().slice(-3000)}`,
          )
        }
        await new Promise((r) => setTimeout(r, 10))
      }
      signalled = Date.now()
      const exit = await server.stop('SIGTERM')
      const tookMs = Date.now() - signalled
      stop = true
      await Promise.all(posters)
      console.info(
        `[fault] serve exit ${JSON.stringify(exit)} after ${tookMs} ms; statuses ${JSON.stringify(statuses)}; 202s after SIGTERM: ${answeredAfterSignal}`,
      )
      expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null })
      expect(tookMs).toBeLessThan(10_000)
      // Requests refused while stopping get a 503 or a closed connection, never a 5xx of another kind.
      expect(Object.keys(statuses).filter((s) => !['202', '503', 'connection_error'].includes(s))).toEqual([])
    } finally {
      stop = true
      await server.stop('SIGKILL')
    }
    await verifyEvents(db.ownerUrl, 'http-f-bot', ledger)
  })

  it('through the library: flushOnSignals writes every accepted event before the process ends', async () => {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, DATABASE_URL: db.ownerUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const ledger: EventLedger = { acked: new Set(), sent: new Set() }
    let stderr = ''
    let pendingLine = ''
    let ready = false
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.stdout.on('data', (c: Buffer) => {
      const lines = (pendingLine + c.toString()).split('\n')
      pendingLine = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'ready') ready = true
        if (line.startsWith('acked ')) {
          for (const id of line.slice(6).split(',')) {
            ledger.acked.add(id)
            ledger.sent.add(id)
          }
        }
      }
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    )
    const deadline = Date.now() + 30_000
    while (!ready || ledger.acked.size < 2_000) {
      if (Date.now() > deadline) {
        throw new Error(
          `the child acknowledged ${ledger.acked.size} of 2000 events within 30 s (ready: ${ready}); stderr: ${stderr}`,
        )
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    child.kill('SIGTERM')
    const exit = await exited
    expect(stderr).toBe('')
    // The buffer flushed, then let SIGTERM take its default course.
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' })
    await verifyEvents(db.ownerUrl, 'child-bot', ledger)
  })
})
