// pgvector: whether the database has it, and one HNSW (cosine) index per model and dimension count.
// The embeddings table stores real[]; the index is on the expression embedding::vector(N), partial
// on the model, so models of any dimension live side by side and each search uses its own index.
import { createHash } from 'node:crypto'
import type { DbPool, Queryable } from '../db/pool.js'
import { RobotBrainError } from '../errors.js'

/** pgvector indexes vectors of up to 2000 dimensions; longer ones are searched exactly. */
export const HNSW_MAX_DIMENSIONS = 2000

/** Semantic search asked of a database without the pgvector extension. */
export class VectorUnavailableError extends RobotBrainError {
  constructor() {
    super(
      'vector_extension_missing',
      503,
      'semantic search needs the pgvector extension, which this database does not have: install it ' +
        '(scripts/pgvector.sh, or your provider\'s "vector" extension), then run `robot-brain-db migrate` ' +
        'or CREATE EXTENSION vector as the owner. Full-text search works without it.',
    )
  }
}

export async function hasVectorExtension(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>("SELECT to_regtype('vector') IS NOT NULL AS ok")
  return rows[0]?.ok === true
}

/** A SQL string literal of a model name (which comes from configuration, never from a request). */
export function modelLiteral(model: string): string {
  return `'${model.replace(/'/g, "''")}'`
}

export function vectorIndexName(model: string, dimensions: number): string {
  return `embeddings_hnsw_${createHash('sha256').update(`${model}\u0000${dimensions}`).digest('hex').slice(0, 16)}`
}

/**
 * Creates the model's HNSW index if missing (CONCURRENTLY on a server: writes go on). Owner pool.
 * An invalid index left by an interrupted build is rebuilt. Returns false without pgvector.
 */
export async function ensureVectorIndex(
  owner: DbPool,
  model: string,
  dimensions: number,
  concurrently: boolean,
): Promise<boolean> {
  if (dimensions > HNSW_MAX_DIMENSIONS || !(await hasVectorExtension(owner))) return false
  const name = vectorIndexName(model, dimensions)
  const { rows } = await owner.query<{ valid: boolean }>({
    text: 'SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass($1)',
    values: [`robot_brain.${name}`],
  })
  if (rows[0]?.valid) return true
  if (rows[0]) await owner.query(`DROP INDEX IF EXISTS robot_brain.${name}`)
  await owner.query(
    `CREATE INDEX ${concurrently ? 'CONCURRENTLY' : ''} IF NOT EXISTS ${name} ON robot_brain.embeddings
     USING hnsw ((embedding::vector(${dimensions})) vector_cosine_ops)
     WHERE model = ${modelLiteral(model)} AND dimensions = ${dimensions}`,
  )
  return true
}
