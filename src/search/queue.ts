// The embedding queue: robot_brain.embedding_queue holds every turn waiting for a vector by the
// configured model (the turn insert fills it, in the same statement, through a trigger). A worker
// claims a batch by pushing its next_attempt_at forward (a lease: nothing is held open while the
// embedder runs), embeds the texts, then writes the vectors and deletes the entries in one statement.
// A crash leaves the claimed entries to come due again when the lease ends; a failing or slow
// embedder only delays the entries (backoff) and never touches a turn write. Owner pool: the worker
// serves every tenant.
import type { DbPool } from '../db/pool.js'
import { checkVectors, type Embedder, embeddingText } from './embedders/embedder.js'

export interface QueueOptions {
  /** Texts per embedder call, default 32. */
  batchSize?: number
  /** How long a claimed batch is reserved before another worker may take it, default 2 minutes. */
  leaseMs?: number
  /** First retry delay after a failure, doubled per attempt up to maxBackoffMs; default 1 s. */
  backoffMs?: number
  maxBackoffMs?: number
  /** Pause when the queue has nothing due, default 1 s. */
  idleMs?: number
  /**
   * Opens encrypted tenants' texts in place before they are embedded; a row whose tenant did not opt in
   * to semantic search gets null texts (not embedded: vectors would leak its meaning).
   */
  openTexts?: (rows: QueuedText[]) => Promise<void>
}

/** A queued turn's texts as the worker reads them. */
export interface QueuedText {
  tenant_id: string
  turn_id: string
  user_message: string | null
  robot_response: string | null
}

export interface BatchResult {
  claimed: number
  embedded: number
  /** Entries dropped: the turn is gone, has no text, or already has a vector by this model. */
  skipped: number
  failed: number
}

const CLAIM = `
WITH due AS (
  SELECT tenant_id, turn_id FROM robot_brain.embedding_queue
  WHERE next_attempt_at <= now()
  ORDER BY next_attempt_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE robot_brain.embedding_queue q
   SET attempts = q.attempts + 1, next_attempt_at = now() + $2::integer * interval '1 millisecond'
  FROM due
 WHERE q.tenant_id = due.tenant_id AND q.turn_id = due.turn_id
RETURNING q.tenant_id, q.turn_id::text AS turn_id, q.created_at, q.attempts`

const TEXTS = `
SELECT k.tenant_id, k.turn_id::text AS turn_id, c.created_at, c.user_message, c.robot_response,
       EXISTS (SELECT FROM robot_brain.embeddings e
               WHERE e.tenant_id = k.tenant_id AND e.turn_id = k.turn_id AND e.model = $3) AS embedded
FROM unnest($1::text[], $2::uuid[]) AS k(tenant_id, turn_id)
LEFT JOIN LATERAL (
  SELECT c.created_at, c.user_message, c.robot_response FROM robot_brain.conversations c
  WHERE c.tenant_id = k.tenant_id AND c.id = k.turn_id LIMIT 1
) c ON true`

/** Stores the vectors and removes the finished entries (with or without a vector) atomically. */
const COMPLETE = `
WITH stored AS (
  INSERT INTO robot_brain.embeddings (tenant_id, turn_id, model, dimensions, embedding, created_at)
  SELECT v.tenant_id, v.turn_id, $3, $4, v.embedding::real[], v.created_at
  FROM unnest($5::text[], $6::uuid[], $7::text[], $8::timestamptz[]) AS v(tenant_id, turn_id, embedding, created_at)
  ON CONFLICT (tenant_id, turn_id, model) DO NOTHING
  RETURNING 1
)
DELETE FROM robot_brain.embedding_queue q
USING unnest($1::text[], $2::uuid[]) AS d(tenant_id, turn_id)
WHERE q.tenant_id = d.tenant_id AND q.turn_id = d.turn_id`

const FAIL = `
UPDATE robot_brain.embedding_queue q
   SET last_error = $3,
       next_attempt_at = now() + least($5::integer, $4::integer * power(2, least(q.attempts - 1, 20))) * interval '1 millisecond'
  FROM unnest($1::text[], $2::uuid[]) AS d(tenant_id, turn_id)
 WHERE q.tenant_id = d.tenant_id AND q.turn_id = d.turn_id`

export async function embeddingBacklog(owner: DbPool): Promise<number> {
  const { rows } = await owner.query<{ n: string }>('SELECT count(*) AS n FROM robot_brain.embedding_queue')
  return Number(rows[0]?.n ?? 0)
}

/** One batch: claim, embed, store. Errors of the embedder are recorded on the entries, not thrown. */
export async function workBatch(
  owner: DbPool,
  embedder: Embedder,
  options: QueueOptions = {},
): Promise<BatchResult> {
  const size = options.batchSize ?? 32
  const { rows: claimed } = await owner.query<{ tenant_id: string; turn_id: string }>({
    text: CLAIM,
    values: [size, options.leaseMs ?? 120_000],
  })
  const result: BatchResult = { claimed: claimed.length, embedded: 0, skipped: 0, failed: 0 }
  if (claimed.length === 0) return result
  const { rows } = await owner.query<{
    tenant_id: string
    turn_id: string
    created_at: Date | null
    user_message: string | null
    robot_response: string | null
    embedded: boolean
  }>({
    text: TEXTS,
    values: [claimed.map((c) => c.tenant_id), claimed.map((c) => c.turn_id), embedder.model],
  })
  if (options.openTexts) await options.openTexts(rows)
  const work: Array<{ tenant_id: string; turn_id: string; created_at: Date; text: string }> = []
  for (const r of rows) {
    const text = r.created_at && !r.embedded ? embeddingText(r.user_message ?? '', r.robot_response) : null
    if (text && r.created_at)
      work.push({ tenant_id: r.tenant_id, turn_id: r.turn_id, created_at: r.created_at, text })
  }
  result.skipped = rows.length - work.length
  let vectors: number[][] = []
  try {
    if (work.length > 0) {
      const texts = work.map((w) => w.text)
      vectors = checkVectors(embedder, texts, await embedder.embed(texts))
    }
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500)
    await owner.query({
      text: FAIL,
      values: [
        work.map((w) => w.tenant_id),
        work.map((w) => w.turn_id),
        message,
        options.backoffMs ?? 1000,
        options.maxBackoffMs ?? 600_000,
      ],
    })
    // The entries without work (gone, empty, done) are finished all the same.
    const done = rows.filter((r) => !work.some((w) => w.tenant_id === r.tenant_id && w.turn_id === r.turn_id))
    await complete(owner, embedder, done, [], [])
    result.failed = work.length
    return result
  }
  await complete(owner, embedder, rows, work, vectors)
  result.embedded = work.length
  return result
}

async function complete(
  owner: DbPool,
  embedder: Embedder,
  done: Array<{ tenant_id: string; turn_id: string }>,
  work: Array<{ tenant_id: string; turn_id: string; created_at: Date }>,
  vectors: number[][],
): Promise<void> {
  if (done.length === 0) return
  await owner.query({
    text: COMPLETE,
    values: [
      done.map((d) => d.tenant_id),
      done.map((d) => d.turn_id),
      embedder.model,
      embedder.dimensions,
      work.map((w) => w.tenant_id),
      work.map((w) => w.turn_id),
      vectors.map((v) => `{${v.join(',')}}`),
      work.map((w) => w.created_at.toISOString()),
    ],
  })
}

/**
 * Queues every turn that has no vector by `model` yet (after a model change, or for turns stored
 * before migration 0005), in primary-key batches. Returns how many were queued.
 */
const ENQUEUE_MISSING = `
WITH batch AS MATERIALIZED (
  SELECT tenant_id, id, created_at,
         btrim(user_message || coalesce(robot_response, ''), E' \t\r\n') = '' AS blank
  FROM robot_brain.conversations
  WHERE (tenant_id, id, created_at) > ($1::text, $2::uuid, $3::timestamptz)
  ORDER BY tenant_id, id, created_at
  LIMIT $4
),
queued AS (
  INSERT INTO robot_brain.embedding_queue (tenant_id, turn_id, created_at)
  SELECT b.tenant_id, b.id, b.created_at FROM batch b
  WHERE NOT b.blank AND NOT EXISTS (SELECT FROM robot_brain.embeddings e
                    WHERE e.tenant_id = b.tenant_id AND e.turn_id = b.id AND e.model = $5)
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM queued)::integer AS queued,
       last.tenant_id, last.id::text AS id, last.created_at::text AS created_at
FROM (SELECT * FROM batch ORDER BY tenant_id DESC, id DESC, created_at DESC LIMIT 1) last`

export async function enqueueMissing(
  owner: DbPool,
  model: string,
  onProgress?: (queued: number) => void,
  batchSize = 5000,
): Promise<number> {
  let key: { tenant_id: string; id: string; created_at: string } = {
    tenant_id: '',
    id: '00000000-0000-0000-0000-000000000000',
    created_at: '-infinity',
  }
  let total = 0
  for (;;) {
    const { rows } = await owner.query<{ queued: number; tenant_id: string; id: string; created_at: string }>(
      {
        text: ENQUEUE_MISSING,
        values: [key.tenant_id, key.id, key.created_at, batchSize, model],
      },
    )
    const last = rows[0]
    if (!last) return total
    total += last.queued
    key = last
    onProgress?.(total)
  }
}

/** Works the queue in the background until stopped (serve). Never throws; logs through onError. */
export class EmbeddingWorker {
  private running = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private failures = 0

  constructor(
    private readonly owner: DbPool,
    private readonly embedder: Embedder,
    private readonly options: QueueOptions & {
      onError?: (err: unknown) => void
      onBatch?: (r: BatchResult) => void
      /** Runs before the first batch (the model's vector index). */
      prepare?: () => Promise<void>
    } = {},
  ) {}

  start(): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Wakes an idle worker (a turn was just written). */
  poke(): void {
    this.wake?.()
  }

  /**
   * Stops after the current batch, waiting for it at most `graceMs`: a shutdown must not wait for a
   * model to load or a slow provider. An abandoned batch is safe: its lease runs out and it is redone.
   */
  async stop(graceMs = 1000): Promise<void> {
    this.running = false
    this.wake?.()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.loop,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs)
      }),
    ])
    clearTimeout(timer)
  }

  private async run(): Promise<void> {
    let prepared = false
    while (this.running) {
      let pause = this.options.idleMs ?? 1000
      try {
        if (!prepared) {
          await this.options.prepare?.()
          prepared = true
        }
        const r = await workBatch(this.owner, this.embedder, this.options)
        this.options.onBatch?.(r)
        this.failures = 0
        if (r.claimed > 0 && r.failed === 0) pause = 0
      } catch (err) {
        // The database is away: back off, never give up.
        this.failures++
        pause = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 6))
        this.options.onError?.(err)
      }
      if (pause > 0 && this.running) await this.sleep(pause)
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref?.()
      this.wake = done
      function done() {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
