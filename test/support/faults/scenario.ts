// One fault scenario: a turn load with a ledger, a fault in the middle, more load after it, then the
// ledger checked against the database. The same scenario runs through the library (a store in this
// process) and through the HTTP service (a serve child process).
import pg from 'pg'
import { expect } from 'vitest'
import type { StoreOptions } from '../../../src/config.js'
import { deriveRuntimeRole } from '../../../src/db/runtime-role.js'
import { openStore, type Store } from '../../../src/store/store.js'
import { Ledger, type LedgerReport, startTurnLoad, verifyLedger, waitForAcks } from './ledger.mjs'
import { ensureBuilt, httpTurnWriter, type ServeProcess, startServe } from './serve.mjs'

export interface ScenarioOptions {
  /** Session ids start with this (one prefix per run keeps library and HTTP runs apart). */
  prefix: string
  /** The turn writer: a store's recordTurn or an HTTP client. */
  write: (turn: Parameters<Store['recordTurn']>[0]) => Promise<unknown>
  /** Owner URL of the database, to check what was stored. */
  ownerUrl: string
  /** The fault; the load keeps running while it happens. */
  fault: () => Promise<void>
  writers?: number
  sessions?: number
  /** Acknowledged turns before the fault, and after it. */
  before?: number
  after?: number
}

export interface ScenarioResult {
  report: LedgerReport
  ledger: Ledger
  /** Errors no one handled while the scenario ran (must stay empty: nothing may crash). */
  unhandled: unknown[]
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown) => unhandled.push(err)
  process.on('uncaughtException', onUnhandled)
  process.on('unhandledRejection', onUnhandled)
  const ledger = new Ledger()
  const load = startTurnLoad({
    writers: o.writers ?? 12,
    sessions: Array.from({ length: o.sessions ?? 24 }, (_, i) => `${o.prefix}-s${i}`),
    write: o.write,
    ledger,
  })
  const t0 = Date.now()
  const phases: number[] = []
  try {
    await waitForAcks(ledger, o.before ?? 300)
    phases.push(Date.now() - t0)
    await o.fault()
    phases.push(Date.now() - t0)
    await waitForAcks(ledger, o.after ?? 300)
    phases.push(Date.now() - t0)
    console.info(
      `[fault] ${o.prefix}: fault at ${phases[0]} ms, over at ${phases[1]} ms, done at ${phases[2]} ms`,
    )
  } finally {
    await load.stop()
    process.off('uncaughtException', onUnhandled)
    process.off('unhandledRejection', onUnhandled)
  }
  const owner = new pg.Client({ connectionString: o.ownerUrl })
  await owner.connect()
  try {
    const report = await verifyLedger(
      async (text, values) => (await owner.query(text, values)).rows,
      ledger,
      o.prefix,
    )
    return { report, ledger, unhandled }
  } finally {
    await owner.end()
  }
}

/** Zero lost, zero duplicated, nothing unknown, counters equal to rows, nothing crashed. */
export function expectNoLossNoDuplicates(result: ScenarioResult, min = 600): void {
  const { report, unhandled } = result
  const summary = JSON.stringify({
    ...report,
    lost: report.lost.length,
    duplicated: report.duplicated.length,
    unknown: report.unknown.length,
    wrongSession: report.wrongSession.length,
  })
  console.info(`[fault] ${summary}`)
  expect(unhandled, summary).toEqual([])
  expect(report.acknowledged, summary).toBeGreaterThanOrEqual(min)
  // The faults last seconds, the retry budget is 20 s: no write may fail for good.
  expect(report.unacknowledged, summary).toBe(0)
  expect(report.lost, summary).toEqual([])
  expect(report.duplicated, summary).toEqual([])
  expect(report.unknown, summary).toEqual([])
  expect(report.wrongSession, summary).toEqual([])
  expect(report.countMismatch, summary).toEqual([])
  // No write needed a resend by the client: the store rode the fault through by itself.
  expect(report.recovered, summary).toBe(0)
  expect(report.errors, summary).toEqual({})
  expect(report.sessions, summary).toBeGreaterThan(0)
}

/** A store opened on `options` and migrated, with a write function for the load. */
export async function libraryTarget(options: StoreOptions): Promise<{
  store: Store
  write: ScenarioOptions['write']
  /** Retries the store made, by reason, and connections it lost (lost_<pool>): proof the fault was felt. */
  retries: Record<string, number>
}> {
  const store = await openStore({ retry: { budgetMs: 20_000 }, ...options })
  await store.migrate()
  const retries: Record<string, number> = {}
  store.observeRetries({
    onRetry: (_err, _attempt, _delay, reason) => {
      retries[reason] = (retries[reason] ?? 0) + 1
    },
  })
  // A connection lost while idle fails no query (the pool drops it): the store reports it instead.
  store.observePoolErrors((_err, pool) => {
    retries[`lost_${pool}`] = (retries[`lost_${pool}`] ?? 0) + 1
  })
  return { store, write: (turn) => store.recordTurn(turn), retries }
}

/** The library run felt the fault: the store retried, or reported a lost connection, at least once. */
export function expectRetried(retries: Record<string, number>): void {
  console.info(`[fault] library retries by reason: ${JSON.stringify(retries)}`)
  expect(Object.values(retries).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
}

/** A serve child process on `env`, with a write function for the load. */
export async function httpTarget(env: Record<string, string>): Promise<{
  server: ServeProcess
  write: ScenarioOptions['write']
}> {
  await ensureBuilt()
  const server = await startServe({ env })
  const writeTurn = httpTurnWriter(server)
  return {
    server,
    write: (turn) => writeTurn(turn as Parameters<typeof writeTurn>[0]),
  }
}

/** The server lived through the fault, and SIGTERM ends it cleanly (exit code 0). */
export async function expectCleanExit(server: ServeProcess): Promise<void> {
  expect(server.exit(), server.output().slice(-3000)).toBeNull()
  const started = Date.now()
  const exit = await server.stop('SIGTERM')
  console.info(`[fault] serve exited ${JSON.stringify(exit)} ${Date.now() - started} ms after SIGTERM`)
  expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null })
}

/**
 * Creates `name` on the server of `adminUrl` (a superuser URL) and returns its URL. With
 * `appLogin`, also creates that login role as a member of the database's own runtime role
 * (robot_brain_app_<name>, which migrate adopts), the way an operator sets up a pooled URL.
 */
export async function createDatabase(adminUrl: string, name: string, appLogin?: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8'`)
    if (appLogin) {
      const role = deriveRuntimeRole(name)
      await admin.query(`CREATE ROLE ${role} NOLOGIN NOBYPASSRLS`)
      await admin.query(`CREATE ROLE "${appLogin}" LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE ${role}`)
    }
  } finally {
    await admin.end()
  }
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  return u.toString()
}
