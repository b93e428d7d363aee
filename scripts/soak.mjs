#!/usr/bin/env node
// Soak test: drives the HTTP API at a steady rate for a few minutes while one fault happens, then
// prints requests, errors by code, p50/p99 latency, and lost and duplicated turns.
//
// By default it builds its own world, all on loopback: a private PostgreSQL cluster (a temporary
// directory and port, never the shared server), a `robot-brain-db serve` process on it (from dist/:
// run `npm run build` first), and the load. Faults, at --fault-at seconds:
//   pg-restart     the private cluster stops (fast: every session gets 57P01), stays down --down-ms, starts
//   pg-terminate   every backend of the soak database is killed with pg_terminate_backend
//   none
// With --target http://127.0.0.1:PORT it drives an already running server instead (no fault, no
// ledger check unless --database-url names its database).
//
//   node scripts/soak.mjs --duration 150 --rate 60 --fault pg-restart --fault-at 60 --down-ms 3000
//
// Bounded: at most --max-requests requests and --duration seconds (15 minutes at most), at most
// --concurrency requests in flight; loopback targets only. Needs root or the postgres OS user for the
// private cluster (initdb runs as postgres).
import { parseArgs } from 'node:util'
import pg from 'pg'
import { uuidv7 } from 'uuidv7'
import { startPrivateCluster } from '../test/support/faults/cluster.mjs'
import { errorCode, Ledger, verifyLedger } from '../test/support/faults/ledger.mjs'
import { httpTurnWriter, startServe } from '../test/support/faults/serve.mjs'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '150' },
    rate: { type: 'string', default: '60' },
    'max-requests': { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '64' },
    fault: { type: 'string', default: 'pg-restart' },
    'fault-at': { type: 'string', default: '60' },
    'down-ms': { type: 'string', default: '3000' },
    sessions: { type: 'string', default: '50' },
    target: { type: 'string' },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (args.help) {
  console.log(
    'usage: node scripts/soak.mjs [--duration s] [--rate req/s] [--max-requests n] [--concurrency n]\n' +
      '                            [--fault pg-restart|pg-terminate|none] [--fault-at s] [--down-ms ms]\n' +
      '                            [--sessions n] [--target http://127.0.0.1:PORT [--database-url URL]] [--json]',
  )
  process.exit(0)
}

function int(name, min, max) {
  const v = Number(args[name])
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`--${name} must be an integer from ${min} to ${max}`)
    process.exit(2)
  }
  return v
}
const durationS = int('duration', 5, 900)
const rate = int('rate', 1, 2000)
const maxRequests = int('max-requests', 1, 1_000_000)
const concurrency = int('concurrency', 1, 512)
const faultAtS = int('fault-at', 0, 900)
const downMs = int('down-ms', 0, 60_000)
const sessionCount = int('sessions', 1, 10_000)
const fault = args.fault
if (!['pg-restart', 'pg-terminate', 'none'].includes(fault)) {
  console.error('--fault must be pg-restart, pg-terminate or none')
  process.exit(2)
}
if (args.target && fault !== 'none') {
  console.error('--target drives a server this script does not own: use --fault none with it')
  process.exit(2)
}

function isLoopback(host) {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}

// ---------------------------------------------------------------- world
const log = (msg) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`)
let cluster
let server
let databaseUrl = args['database-url']
const cleanup = async () => {
  if (server && !server.exit()) await server.stop('SIGKILL').catch(() => {})
  await cluster?.destroy().catch(() => {})
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)))

let request
if (args.target) {
  const u = new URL(args.target)
  if (!isLoopback(u.hostname)) {
    console.error('--target must be a loopback address (127.0.0.0/8, ::1, localhost)')
    process.exit(2)
  }
  const { default: http } = await import('node:http')
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  request = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const req = http.request(
        new URL(path, u),
        {
          method,
          agent,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString()
            let parsed
            try {
              parsed = text ? JSON.parse(text) : undefined
            } catch {}
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
          })
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
} else {
  log('starting a private PostgreSQL cluster')
  cluster = await startPrivateCluster({ settings: ['max_connections=100'] })
  const admin = new pg.Client({ connectionString: cluster.url() })
  await admin.connect()
  await admin.query(`CREATE DATABASE soak TEMPLATE template0 ENCODING 'UTF8'`)
  await admin.end()
  databaseUrl = cluster.url('soak')
  log(`cluster on 127.0.0.1:${cluster.port}; starting serve`)
  server = await startServe({ env: { DATABASE_URL: databaseUrl, DATABASE_DRIVER: 'pg' } })
  request = server.request
  log(`serve pid ${server.pid} on ${server.base}`)
}

// ---------------------------------------------------------------- load
const runId = uuidv7().slice(-8)
const prefix = `soak-${runId}`
const sessions = Array.from({ length: sessionCount }, (_, i) => `${prefix}-s${i}`)
const pick = (list) => list[Math.floor(Math.random() * list.length)]
const ledger = new Ledger()
const eventsAcked = new Set()
const eventsSent = new Set()
const statusCounts = new Map()
const latencies = { all: [], turn: [], history: [], interactions: [] }
const writeTurn = httpTurnWriter({ request: (...a) => request(...a) })
let started = 0
let inflight = 0
let skipped = 0
let turnN = 0

const count = (key) => statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1)

async function one(kind) {
  const t0 = performance.now()
  let key
  try {
    if (kind === 'turn') {
      const sessionId = pick(sessions)
      const n = turnN++
      const turn = {
        id: uuidv7(),
        sessionId,
        robotPersonality: pick(['cheerful', 'stoic', 'curious']),
        userMessage: `soak message ${n}`,
        robotResponse: `soak answer ${n}`,
        metadata: { n },
      }
      try {
        const stored = await writeTurn(turn)
        ledger.ack(turn.id, sessionId)
        key = stored && typeof stored === 'object' ? '201/200' : 'ok'
      } catch (err) {
        key = errorCode(err)
        ledger.fail(turn.id, sessionId, key)
      }
    } else if (kind === 'history') {
      const r = await request('GET', `/v1/sessions/${encodeURIComponent(pick(sessions))}/turns?limit=20`)
      key = `http_${r.status}`
    } else {
      const events = Array.from({ length: 10 }, (_, i) => ({
        id: uuidv7(),
        robotId: `${prefix}-robot${i % 3}`,
        interactionType: pick(['greet', 'wave', 'answer']),
        durationMs: Math.floor(Math.random() * 5000),
        success: Math.random() > 0.1,
      }))
      for (const e of events) eventsSent.add(e.id)
      const r = await request('POST', '/v1/interactions', { events })
      key = `http_${r.status}`
      if (r.status === 202) for (const e of events) eventsAcked.add(e.id)
    }
  } catch (err) {
    key = `http_${err.code ?? 'error'}`
  }
  const ms = performance.now() - t0
  count(`${kind} ${key}`)
  latencies.all.push(ms)
  latencies[kind].push(ms)
}

const kinds = ['turn', 'turn', 'turn', 'turn', 'turn', 'turn', 'turn', 'history', 'history', 'interactions']
let faultInfo = 'none'
const faultRun = (async () => {
  if (fault === 'none') return
  await new Promise((r) => setTimeout(r, faultAtS * 1000))
  const t0 = Date.now()
  if (fault === 'pg-restart') {
    log(`fault: PostgreSQL restart (fast stop, down ${downMs} ms)`)
    await cluster.restart({ mode: 'fast', downMs })
    faultInfo = `PostgreSQL restarted at t=${faultAtS}s (fast shutdown, down ${downMs} ms, back after ${Date.now() - t0} ms)`
  } else {
    const admin = new pg.Client({ connectionString: cluster.url() })
    await admin.connect()
    const { rows } = await admin.query(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
       FROM pg_stat_activity WHERE datname = 'soak' AND pid <> pg_backend_pid()`,
    )
    await admin.end()
    faultInfo = `pg_terminate_backend of ${rows[0].n} backends at t=${faultAtS}s`
  }
  log(`fault over: ${faultInfo}`)
})()

log(`load: ${rate} req/s for ${durationS} s (at most ${maxRequests} requests, ${concurrency} in flight)`)
const t0 = performance.now()
const endAt = t0 + durationS * 1000
let lastReport = t0
while (performance.now() < endAt && started < maxRequests) {
  const due = Math.min(maxRequests, Math.floor(((performance.now() - t0) / 1000) * rate))
  while (started < due) {
    started++
    if (inflight >= concurrency) {
      skipped++ // open loop: a request that cannot start on time is counted, not queued
      continue
    }
    inflight++
    one(pick(kinds)).finally(() => inflight--)
  }
  if (performance.now() - lastReport > 15_000) {
    lastReport = performance.now()
    log(`t=${Math.round((lastReport - t0) / 1000)}s started=${started} in flight=${inflight}`)
  }
  await new Promise((r) => setTimeout(r, 5))
}
while (inflight > 0) await new Promise((r) => setTimeout(r, 20))
const elapsedS = (performance.now() - t0) / 1000
await faultRun

// ---------------------------------------------------------------- checks
let serveExit = 'not ours'
let shutdownMs = 0
if (server) {
  const alive = server.exit() === null
  const s0 = Date.now()
  const exit = await server.stop('SIGTERM')
  shutdownMs = Date.now() - s0
  serveExit = `${alive ? 'alive through the run' : 'CRASHED during the run'}; SIGTERM → exit ${JSON.stringify(exit)} in ${shutdownMs} ms`
}
let turnReport
let eventReport
if (databaseUrl) {
  const owner = new pg.Client({ connectionString: databaseUrl })
  await owner.connect()
  turnReport = await verifyLedger(
    async (text, values) => (await owner.query(text, values)).rows,
    ledger,
    prefix,
  )
  const { rows } = await owner.query(
    `SELECT id::text AS id, count(*)::int AS n FROM robot_brain.robot_interactions
     WHERE robot_id LIKE $1 GROUP BY id`,
    [`${prefix}-robot%`],
  )
  await owner.end()
  const stored = new Map(rows.map((r) => [r.id, r.n]))
  eventReport = {
    acked: eventsAcked.size,
    stored: stored.size,
    lost: [...eventsAcked].filter((id) => !stored.has(id)).length,
    duplicated: rows.filter((r) => r.n > 1).length,
    unknown: rows.filter((r) => !eventsSent.has(r.id)).length,
  }
}
await cleanup()

// ---------------------------------------------------------------- report
const pct = (xs, p) => {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}
const ms = (x) => `${x.toFixed(1)} ms`
const report = {
  duration: `${elapsedS.toFixed(1)} s`,
  rate: `${rate} req/s target, ${(started / elapsedS).toFixed(1)} req/s offered`,
  requests: started,
  skippedOverload: skipped,
  fault: faultInfo,
  byCode: Object.fromEntries([...statusCounts.entries()].sort()),
  latency: Object.fromEntries(
    Object.entries(latencies).map(([k, xs]) => [
      k,
      { n: xs.length, p50: ms(pct(xs, 50)), p99: ms(pct(xs, 99)), max: ms(pct(xs, 100)) },
    ]),
  ),
  turns: turnReport && {
    acknowledged: turnReport.acknowledged,
    failed: turnReport.unacknowledged,
    failedButStored: turnReport.unacknowledgedStored,
    stored: turnReport.stored,
    lost: turnReport.lost.length,
    duplicated: turnReport.duplicated.length,
    unknown: turnReport.unknown.length,
    sessionsWithWrongMessageCount: turnReport.countMismatch.length,
  },
  interactionEvents: eventReport,
  serve: serveExit,
}
if (args.json) {
  console.log(JSON.stringify(report, null, 2))
} else {
  console.log('\nRobot Brain soak report')
  console.log('=======================')
  console.log(`duration        ${report.duration} (${report.rate})`)
  console.log(`requests        ${report.requests} (not started, over ${concurrency} in flight: ${skipped})`)
  console.log(`fault           ${report.fault}`)
  console.log('responses by kind and code:')
  for (const [k, n] of Object.entries(report.byCode)) console.log(`  ${k.padEnd(28)} ${n}`)
  console.log('latency:')
  for (const [k, v] of Object.entries(report.latency)) {
    console.log(
      `  ${k.padEnd(13)} n=${String(v.n).padEnd(6)} p50 ${v.p50.padStart(9)}  p99 ${v.p99.padStart(9)}  max ${v.max.padStart(9)}`,
    )
  }
  if (report.turns) {
    const t = report.turns
    console.log(
      `turns           acknowledged ${t.acknowledged}, failed ${t.failed} (of which stored anyway ${t.failedButStored}), stored ${t.stored}`,
    )
    console.log(
      `                LOST ${t.lost}, DUPLICATED ${t.duplicated}, unknown ${t.unknown}, sessions with message_count != rows: ${t.sessionsWithWrongMessageCount}`,
    )
  }
  if (eventReport) {
    const e = eventReport
    console.log(
      `events          accepted (202) ${e.acked}, stored ${e.stored}; LOST ${e.lost}, DUPLICATED ${e.duplicated}, unknown ${e.unknown}`,
    )
  }
  console.log(`serve           ${report.serve}`)
}
const bad =
  (report.turns &&
    (report.turns.lost ||
      report.turns.duplicated ||
      report.turns.unknown ||
      report.turns.sessionsWithWrongMessageCount)) ||
  (eventReport && (eventReport.lost || eventReport.duplicated || eventReport.unknown)) ||
  serveExit.includes('CRASHED')
process.exitCode = bad ? 1 : 0
