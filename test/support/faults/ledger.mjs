// Writers that keep a ledger of what the store acknowledged, and the check against the database:
// every acknowledged turn stored exactly once, nothing stored twice, nothing stored that no writer
// sent, and each session's message_count equal to its rows.
import { uuidv7 } from 'uuidv7'

export class Ledger {
  constructor() {
    /** @type {Map<string, string>} id -> sessionId, acknowledged (the store answered success) */
    this.acked = new Map()
    /** @type {Map<string, string>} id -> sessionId, sent but never acknowledged */
    this.unacked = new Map()
    /** @type {Map<string, number>} error code -> count, every failed attempt */
    this.errors = new Map()
    /** Attempts that failed and then succeeded when the writer sent the same id again. */
    this.recovered = 0
    /** @type {number[]} latency of each acknowledged write (ms) */
    this.latencies = []
  }

  ack(id, sessionId, ms) {
    this.unacked.delete(id)
    this.acked.set(id, sessionId)
    if (ms !== undefined) this.latencies.push(ms)
  }

  fail(id, sessionId, code) {
    if (!this.acked.has(id)) this.unacked.set(id, sessionId)
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1)
  }

  get attempts() {
    let failed = 0
    for (const n of this.errors.values()) failed += n
    return this.acked.size + failed
  }
}

/** The code of a failed write: SQLSTATE or our error code (library), `http_<status>` (service). */
export function errorCode(err) {
  const code = err && typeof err === 'object' && 'code' in err ? err.code : undefined
  return typeof code === 'string' && code ? code : 'unknown'
}

/**
 * Runs `writers` concurrent loops, each sending turns to random sessions of `sessions` until stop()
 * is called. A failed write is sent again with the same id up to `resend` times (what a client does
 * with a 503), so the ledger also proves a resent turn is stored once.
 * @param {{ writers: number, sessions: string[], write: (turn: object) => Promise<unknown>,
 *           ledger: Ledger, resend?: number, resendDelayMs?: number, paceMs?: number }} o
 */
export function startTurnLoad(o) {
  let stopped = false
  const resend = o.resend ?? 2
  const loops = Array.from({ length: o.writers }, async (_, w) => {
    let n = 0
    while (!stopped) {
      const sessionId = o.sessions[Math.floor(Math.random() * o.sessions.length)]
      const turn = {
        id: uuidv7(),
        sessionId,
        robotPersonality: 'steady',
        userMessage: `writer ${w} message ${n}`,
        robotResponse: `answer ${n} to writer ${w}`,
        metadata: { writer: w, n },
      }
      n++
      for (let attempt = 0; attempt <= resend; attempt++) {
        const started = performance.now()
        try {
          await o.write(turn)
          o.ledger.ack(turn.id, sessionId, performance.now() - started)
          if (attempt > 0) o.ledger.recovered++
          break
        } catch (err) {
          o.ledger.fail(turn.id, sessionId, errorCode(err))
          if (attempt < resend) await new Promise((r) => setTimeout(r, o.resendDelayMs ?? 200))
        }
      }
      if (o.paceMs) await new Promise((r) => setTimeout(r, o.paceMs))
    }
  })
  const done = Promise.all(loops)
  return {
    stop() {
      stopped = true
      return done
    },
  }
}

/** Waits until `count` more turns are acknowledged than when called (or throws after timeoutMs). */
export async function waitForAcks(ledger, count, timeoutMs = 60_000) {
  const target = ledger.acked.size + count
  const deadline = Date.now() + timeoutMs
  while (ledger.acked.size < target) {
    if (Date.now() > deadline) {
      throw new Error(
        `only ${ledger.acked.size} of ${target} turns acknowledged after ${timeoutMs} ms; errors: ${JSON.stringify(Object.fromEntries(ledger.errors))}`,
      )
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * Compares the ledger with the database. `query(text, values)` runs as a role that sees every row
 * (the owner). Only sessions whose id starts with `prefix` are looked at.
 */
export async function verifyLedger(query, ledger, prefix) {
  const like = `${prefix.replace(/[\\%_]/g, '\\$&')}%`
  const rows = await query(
    `SELECT id::text AS id, session_id, count(*)::int AS n
     FROM robot_brain.conversations WHERE session_id LIKE $1 GROUP BY id, session_id`,
    [like],
  )
  const stored = new Map(rows.map((r) => [r.id, r]))
  const lost = [...ledger.acked.keys()].filter((id) => !stored.has(id))
  const duplicated = rows.filter((r) => r.n > 1).map((r) => r.id)
  const unknown = rows.filter((r) => !ledger.acked.has(r.id) && !ledger.unacked.has(r.id)).map((r) => r.id)
  const unackedStored = [...ledger.unacked.keys()].filter((id) => stored.has(id)).length
  const wrongSession = rows
    .filter((r) => (ledger.acked.get(r.id) ?? ledger.unacked.get(r.id) ?? r.session_id) !== r.session_id)
    .map((r) => r.id)
  const sessions = await query(
    `SELECT s.id, s.message_count,
            (SELECT count(*)::int FROM robot_brain.conversations c
              WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id) AS rows
     FROM robot_brain.sessions s WHERE s.id LIKE $1`,
    [like],
  )
  const countMismatch = sessions
    .filter((s) => s.message_count !== s.rows)
    .map((s) => ({ session: s.id, messageCount: s.message_count, rows: s.rows }))
  return {
    acknowledged: ledger.acked.size,
    unacknowledged: ledger.unacked.size,
    unacknowledgedStored: unackedStored,
    recovered: ledger.recovered,
    stored: rows.length,
    lost,
    duplicated,
    unknown,
    wrongSession,
    countMismatch,
    sessions: sessions.length,
    errors: Object.fromEntries(ledger.errors),
  }
}
