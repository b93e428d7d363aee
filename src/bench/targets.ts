// A target is one way of reaching the database: the store opened on it, and the raw driver on the
// same network path for the baseline. The baseline logs in as the owner (a superuser on the bench
// server, so row-level security costs it nothing): the project is measured against the fastest raw
// client, not a handicapped one.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool as NeonPool } from '@neondatabase/serverless'
import pg from 'pg'
import type { DbPool } from '../db/pool.js'
import { openStore, type Store } from '../store/store.js'
import type { BenchDatabase } from './server.js'

export type TargetName = 'pg' | 'pgbouncer' | 'neon' | 'pglite'

/** Rows written and read by the bench live in this tenant. */
export const BENCH_TENANT = 'bench'
/** Same pool size on both sides (the store's default). */
export const POOL_MAX = 10

export const TARGET_LABELS: Record<TargetName, string> = {
  pg: 'PostgreSQL direct (pg)',
  pgbouncer: 'PgBouncer transaction mode (pg)',
  neon: 'Neon serverless driver (WebSocket)',
  pglite: 'embedded PGlite',
}

export interface Target {
  name: TargetName
  /** The store, acting for BENCH_TENANT. */
  store: Store
  /** The same store acting for the default tenant (what the HTTP API uses on loopback without keys). */
  root: Store
  /** Raw driver for the baseline, on the same path as the store's application queries. */
  raw: DbPool
  /** Direct owner connection for bulk loads and checks. */
  owner: DbPool
  close(): Promise<void>
}

export interface TargetContext {
  db?: BenchDatabase
  /** Shared direct owner pool on the bench server. */
  owner?: DbPool
  /** Local WebSocket proxy for the Neon driver (`host:port/path`). */
  wsProxy?: string
  groupCommit?: { enabled?: boolean; maxBatch?: number; lingerMs?: number }
}

function rawPg(url: string): DbPool {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, application_name: 'robot-brain-bench' })
  pool.on('error', () => {})
  return pool as unknown as DbPool
}

export async function openTarget(name: TargetName, ctx: TargetContext): Promise<Target> {
  if (name === 'pglite') {
    const dataDir = await mkdtemp(join(tmpdir(), 'rbbench-pglite-'))
    const root = await openStore({ dataDir, groupCommit: ctx.groupCommit })
    await root.migrate()
    return {
      name,
      store: root.tenant(BENCH_TENANT),
      root,
      raw: root.transport.owner,
      owner: root.transport.owner,
      close: async () => {
        await root.close()
        await rm(dataDir, { recursive: true, force: true })
      },
    }
  }
  const db = ctx.db
  const owner = ctx.owner
  if (!db || !owner) throw new Error(`target ${name} needs the bench database`)
  let root: Store
  let raw: DbPool
  if (name === 'pg') {
    root = await openStore({ url: db.ownerUrl, poolMax: POOL_MAX, groupCommit: ctx.groupCommit })
    raw = rawPg(db.ownerUrl)
  } else if (name === 'pgbouncer') {
    if (!db.bouncerAppUrl || !db.bouncerOwnerUrl) throw new Error('PgBouncer is not configured')
    root = await openStore({
      url: db.bouncerAppUrl,
      directUrl: db.ownerUrl,
      poolMax: POOL_MAX,
      groupCommit: ctx.groupCommit,
    })
    raw = rawPg(db.bouncerOwnerUrl)
  } else {
    if (!ctx.wsProxy) throw new Error('the Neon driver needs a WebSocket proxy')
    root = await openStore({
      url: db.ownerUrl,
      driver: 'neon',
      neon: { wsProxy: ctx.wsProxy, secureWebSocket: false },
      poolMax: POOL_MAX,
      groupCommit: ctx.groupCommit,
    })
    // openStore has pointed the driver's global neonConfig at the proxy; the raw pool shares it.
    const pool = new NeonPool({ connectionString: db.ownerUrl, max: POOL_MAX })
    pool.on('error', () => {})
    raw = pool as unknown as DbPool
  }
  return {
    name,
    store: root.tenant(BENCH_TENANT),
    root,
    raw,
    owner,
    close: async () => {
      await Promise.all([root.close(), raw.end()])
    },
  }
}
