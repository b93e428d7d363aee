// Scale data for the search speed suite, made on the server (INSERT ... SELECT generate_series as
// the owner), not through recordTurn: 1M turns one by one would take longer than the measurements.
// Each turn's text is a user message and a robot answer drawn from the labelled evaluation set, so
// words have the frequencies of real conversation (a keyword query matches ~1% of the turns, a long
// sentence almost none). Its vector is synthetic: the sum of two of 2 × 1000 random base vectors
// (1M distinct 512-dimension vectors with some structure, as real embeddings have), stored as the
// `synthetic-512` model with the same HNSW index the configured model gets. Turns are spread over
// the last twelve monthly partitions, `perSession` per session.
import type pg from 'pg'
import type { DbPool } from '../db/pool.js'
import type { Embedder } from '../search/embedders/embedder.js'
import { ensureVectorIndex } from '../search/vector-index.js'
import { ensureHistoryPartitions, MONTHS } from './bulk-load.js'
import type { EvalSet } from './search-eval.js'
import { BENCH_TENANT } from './targets.js'

export const SYNTHETIC_MODEL = 'synthetic-512'
export const SYNTHETIC_DIMS = 512
const BASIS = 1000
export const SPEED_PERSONALITIES = ['cheerful', 'professional', 'witty', 'calm', 'tutor']

/** Deterministic pseudo-random numbers in [-0.5, 0.5) (mulberry32). */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
}

/** The two sets of base vectors (side 0 and 1), the same in every run. */
export function basisVectors(): number[][][] {
  const rand = random(20260101)
  return [0, 1].map(() =>
    Array.from({ length: BASIS }, () => Array.from({ length: SYNTHETIC_DIMS }, () => rand())),
  )
}

/** Query vectors from the same distribution as the stored ones; no model, no waiting. */
export class SyntheticEmbedder implements Embedder {
  readonly model = SYNTHETIC_MODEL
  readonly dimensions = SYNTHETIC_DIMS
  private readonly rand = random(7)
  constructor(private readonly basis: number[][][]) {}

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map(() => {
      const a = this.basis[0]?.[Math.floor((this.rand() + 0.5) * BASIS)] as number[]
      const b = this.basis[1]?.[Math.floor((this.rand() + 0.5) * BASIS)] as number[]
      return a.map((x, i) => x + (b[i] as number))
    })
  }
}

/** Tables the load reads from: the base vectors and the evaluation set's texts (public schema). */
export async function prepareSources(owner: DbPool, set: EvalSet, basis: number[][][]): Promise<number> {
  const texts = set.sessions.flatMap((s) => s.turns)
  await owner.query(`DROP TABLE IF EXISTS public.bench_basis, public.bench_texts;
    CREATE TABLE public.bench_basis (side int, k int, v vector(${SYNTHETIC_DIMS}), PRIMARY KEY (side, k));
    CREATE TABLE public.bench_texts (k int PRIMARY KEY, user_message text, robot_response text)`)
  for (const [side, vectors] of basis.entries()) {
    await owner.query({
      text: `INSERT INTO public.bench_basis SELECT $1, k - 1, v::vector FROM unnest($2::text[]) WITH ORDINALITY AS u(v, k)`,
      values: [side, vectors.map((v) => `[${v.join(',')}]`)],
    })
  }
  await owner.query({
    text: `INSERT INTO public.bench_texts SELECT k - 1, u, r FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(u, r, k)`,
    values: [texts.map((t) => t[0]), texts.map((t) => t[1])],
  })
  return texts.length
}

const PARAMS = `params AS (
  SELECT t0, extract(epoch FROM now() - t0) - $3::int * 30 - 3600 AS span_s
  FROM (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '${MONTHS - 1} months') AT TIME ZONE 'UTC' AS t0) p
),
start AS (
  SELECT s, t0 + span_s * (s * 0.6180339887498949 - floor(s * 0.6180339887498949)) * interval '1 second' AS st
  FROM params, generate_series($1::int, $2::int - 1) s
)`

const INSERT_SESSIONS = `WITH ${PARAMS}
INSERT INTO robot_brain.sessions (tenant_id, id, user_id, created_at, last_active, message_count, turns_from, turns_to)
SELECT $4, 's' || s, 'u' || (s % 5000), st, st + ($3::int - 1) * interval '30 seconds', $3::int,
       st, st + ($3::int - 1) * interval '30 seconds' FROM start`

// Triggers do not fire under session_replication_role = replica: search_vector is filled here, by the
// same function the trigger uses, and the vectors go in by the same statement.
const INSERT_TURNS = `WITH ${PARAMS},
turns AS (
  INSERT INTO robot_brain.conversations
    (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at, search_vector)
  SELECT $4,
         (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' ||
          substr(r, 7, 12))::uuid,
         's' || s, (ARRAY['${SPEED_PERSONALITIES.join("','")}'])[1 + (s % ${SPEED_PERSONALITIES.length})],
         tu.user_message, tr.robot_response, jsonb_build_object('channel', CASE WHEN s % 3 = 0 THEN 'voice' ELSE 'web' END),
         ts, robot_brain.turn_search_vector(tu.user_message, tr.robot_response)
  FROM start,
       generate_series(0, $3::int - 1) k,
       LATERAL (SELECT st + k * interval '30 seconds' AS ts) t,
       LATERAL (SELECT lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') AS h,
                       md5(s || ':' || k) AS r) u,
       LATERAL (SELECT ('x' || substr(r, 20, 7))::bit(28)::int AS ha, ('x' || substr(r, 28, 4))::bit(16)::int AS hb) x
       JOIN public.bench_texts tu ON tu.k = ha % $5::int
       JOIN public.bench_texts tr ON tr.k = hb % $5::int
  RETURNING tenant_id, id, created_at, md5(id::text) AS hv
)
INSERT INTO robot_brain.embeddings (tenant_id, turn_id, model, dimensions, embedding, created_at)
SELECT t.tenant_id, t.id, '${SYNTHETIC_MODEL}', ${SYNTHETIC_DIMS}, (a.v + b.v)::real[], t.created_at
FROM turns t
JOIN public.bench_basis a ON a.side = 0 AND a.k = ('x' || substr(t.hv, 1, 4))::bit(16)::int % ${BASIS}
JOIN public.bench_basis b ON b.side = 1 AND b.k = ('x' || substr(t.hv, 5, 4))::bit(16)::int % ${BASIS}`

/**
 * Adds sessions [from, to) with `perSession` turns each, their search vectors and synthetic
 * embeddings, in chunks (progress, short transactions). As the owner, foreign keys and triggers off
 * for the load (session_replication_role: superuser only).
 */
export async function loadSearchTurns(
  client: pg.ClientBase,
  from: number,
  to: number,
  perSession: number,
  texts: number,
  progress: (done: number) => void = () => {},
): Promise<void> {
  await client.query('SET session_replication_role = replica')
  try {
    const chunk = Math.max(1, Math.floor(100_000 / perSession))
    for (let a = from; a < to; a += chunk) {
      const b = Math.min(to, a + chunk)
      await client.query({ text: INSERT_SESSIONS, values: [a, b, perSession, BENCH_TENANT] })
      await client.query({ text: INSERT_TURNS, values: [a, b, perSession, BENCH_TENANT, texts] })
      progress((b - from) * perSession)
    }
  } finally {
    await client.query('RESET session_replication_role')
  }
}

export { ensureHistoryPartitions as ensureSearchPartitions }

/**
 * (Re)builds the synthetic model's HNSW index: dropped before a load and built after, which is much
 * faster than inserting into it. Enough maintenance memory that the graph is built in memory.
 */
export async function buildVectorIndex(client: pg.ClientBase, maintenanceMem: string): Promise<void> {
  await client.query(`SET maintenance_work_mem = '${maintenanceMem}'`)
  await client.query('SET max_parallel_maintenance_workers = 2')
  await ensureVectorIndex(client as unknown as DbPool, SYNTHETIC_MODEL, SYNTHETIC_DIMS, false)
}
