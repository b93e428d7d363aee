// Suite c: interaction ingest, one writer sending batches. Baseline: COPY FROM STDIN with
// pg-copy-streams as the owner (no row-level security, no conflict handling). Project:
// store.recordInteractions (validation, tenant context, idempotent insert by id).
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { type CompareOptions, compare, runClosedLoop } from './load.js'
import { type BenchEvent, makeEvents } from './payload.js'
import type { ResultRow } from './report.js'
import { BENCH_TENANT, type Target } from './targets.js'

type CopyFrom = (text: string) => NodeJS.WritableStream & pg.Submittable

const COPY = `COPY robot_brain.robot_interactions
  (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at) FROM STDIN`

/** COPY text format. The generated values hold no tab, newline or backslash, so nothing needs escaping. */
function copyText(events: BenchEvent[]): string {
  let out = ''
  for (const e of events) {
    out += `${BENCH_TENANT}\t${e.id}\t${e.robotId}\t${e.interactionType}\t${e.durationMs}\t${e.success ? 't' : 'f'}\t${JSON.stringify(e.metadata)}\t${e.createdAt.toISOString()}\n`
  }
  return out
}

/** pg-copy-streams is a development dependency: without it the suite is skipped. */
export async function loadCopyFrom(): Promise<CopyFrom | null> {
  try {
    const mod = (await import('pg-copy-streams')) as { from?: CopyFrom; default?: { from: CopyFrom } }
    return mod.from ?? mod.default?.from ?? null
  } catch {
    return null
  }
}

export async function runInteractionCase(
  target: Target,
  copyPool: pg.Pool,
  copyFrom: CopyFrom,
  batch: number,
  opts: CompareOptions,
): Promise<ResultRow> {
  let seed = 0
  const cmp = await compare(
    {
      perOp: batch,
      run: (ms) =>
        runClosedLoop(1, ms, async () => {
          seed += batch
          const text = copyText(makeEvents(batch, seed))
          const client = await copyPool.connect()
          try {
            await pipeline(Readable.from([text]), client.query(copyFrom(COPY)))
            client.release()
          } catch (err) {
            client.release(err as Error)
            throw err
          }
        }),
    },
    {
      perOp: batch,
      run: (ms) =>
        runClosedLoop(1, ms, async () => {
          seed += batch
          const r = await target.store.recordInteractions(makeEvents(batch, seed))
          if (r.inserted !== batch) throw new Error(`recordInteractions stored ${r.inserted} of ${batch}`)
        }),
    },
    opts,
  )
  return {
    suite: 'interactions',
    target: target.name,
    case: `batches of ${batch.toLocaleString('en-US')}, 1 writer`,
    key: `interactions.${target.name}.${batch}`,
    unit: 'events/s',
    baselineName: 'COPY (pg-copy-streams)',
    projectName: 'recordInteractions',
    ...cmp,
  }
}
