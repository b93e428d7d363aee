// The search capability the Store composes: runs full-text, semantic and hybrid searches for a
// tenant, embeds queries, stores client-sent vectors, and owns the embedding worker. It knows the
// pools and the embedder, never the Store.
import type { DbPool, Transport } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { ValidationError } from '../errors.js'
import { type TurnRow, toTurn } from '../store/turns.js'
import type { Embedder } from './embedders/embedder.js'
import { SEARCH_LIMITS, type SearchFilters, type ValidSearch } from './filters.js'
import { fulltextSearch, headlines } from './fulltext.js'
import { fuse } from './hybrid.js'
import {
  type BatchResult,
  EmbeddingWorker,
  embeddingBacklog,
  enqueueMissing,
  type QueueOptions,
  workBatch,
} from './queue.js'
import { semanticSearch } from './semantic.js'
import type { SearchMode, SearchResponse, SearchResult } from './types.js'
import { ensureVectorIndex, hasVectorExtension, VectorUnavailableError } from './vector-index.js'

export class EmbeddingsDisabledError extends ValidationError {
  constructor() {
    super('mode', 'semantic search needs an embedder, and this store has none (EMBEDDINGS=off)')
  }
}

/** A snippet for a turn only the semantic arm found: the start of its text. */
function plainSnippet(row: TurnRow): string {
  const text = `${row.user_message}\n${row.robot_response ?? ''}`.trim()
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

export class SearchEngine {
  private vectorOk: { value: boolean; at: number } | undefined
  /** Tenants known to hold vectors of the configured model (the default mode is then hybrid). */
  private readonly tenantsWithVectors = new Map<string, number>()
  private worker: EmbeddingWorker | undefined
  /** Opens encrypted tenants' texts for the embedding worker (set by the store). */
  openTexts: QueueOptions['openTexts']

  constructor(
    private readonly transport: Transport,
    readonly embedder: Embedder | null,
    private readonly retry: <T>(fn: () => Promise<T>) => Promise<T>,
    /** The pool a tenant's searches read from (the read replica when fresh); the app pool by default. */
    private readonly reader: (tenant: string) => DbPool = () => transport.app,
  ) {}

  async search(tenant: string, s: ValidSearch): Promise<SearchResponse> {
    const mode = s.mode ?? (await this.defaultMode(tenant))
    if (mode === 'fulltext') {
      const rows = await this.retry(() =>
        fulltextSearch(this.reader(tenant), tenant, s.query, s.filters, s.limit),
      )
      return {
        mode,
        results: rows.map((r, i) => ({
          turn: toTurn(r),
          score: r.score,
          snippet: r.snippet ?? plainSnippet(r),
          ranks: { fulltext: i + 1, semantic: null },
        })),
      }
    }
    if (mode === 'semantic') {
      const rows = await this.semanticRows(tenant, s.query, s.filters, s.limit)
      return {
        mode,
        results: rows.map((r, i) => ({
          turn: toTurn(r),
          score: r.score,
          snippet: plainSnippet(r),
          ranks: { fulltext: null, semantic: i + 1 },
        })),
      }
    }
    const arm = Math.min(SEARCH_LIMITS.limitMax * SEARCH_LIMITS.armFactor, s.limit * SEARCH_LIMITS.armFactor)
    const [ft, sem] = await Promise.all([
      this.retry(() =>
        fulltextSearch(this.reader(tenant), tenant, s.query, s.filters, arm, { snippets: false }),
      ),
      this.semanticRows(tenant, s.query, s.filters, arm),
    ])
    const fused = fuse(ft, sem, s.limit)
    // Marked-up snippets for the shown turns the full-text arm found (not for all `arm` of its rows).
    const marked = fused.filter((r) => r.ranks.fulltext !== null)
    const snippets = await this.retry(() =>
      headlines(
        this.reader(tenant),
        s.query,
        marked.map((r) => `${r.row.user_message}\n${r.row.robot_response ?? ''}`),
      ),
    )
    const byId = new Map(marked.map((r, i) => [r.row.id, snippets[i]]))
    const results: SearchResult[] = fused.map((r) => ({
      turn: toTurn(r.row),
      score: r.score,
      snippet: byId.get(r.row.id) ?? plainSnippet(r.row),
      ranks: r.ranks,
    }))
    return { mode, results }
  }

  /** hybrid where the tenant has vectors of the configured model (and pgvector is there), else fulltext. */
  async defaultMode(tenant: string): Promise<SearchMode> {
    if (!this.embedder) return 'fulltext'
    const known = this.tenantsWithVectors.get(tenant)
    if (known !== undefined && Date.now() - known < 60_000) return 'hybrid'
    if (!(await this.vectorAvailable())) return 'fulltext'
    const model = this.embedder.model
    const { rows } = await this.retry(() =>
      this.transport.app.query<{ any: boolean }>({
        text: `SELECT e.any FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
               CROSS JOIN LATERAL (SELECT EXISTS (SELECT FROM robot_brain.embeddings e
                 WHERE e.tenant_id = ctx.tenant_id AND e.model = $2) AS any) e`,
        values: [tenant, model],
      }),
    )
    if (!rows[0]?.any) return 'fulltext'
    this.tenantsWithVectors.set(tenant, Date.now())
    return 'hybrid'
  }

  private async semanticRows(tenant: string, query: string, filters: SearchFilters, limit: number) {
    const embedder = this.embedder
    if (!embedder) throw new EmbeddingsDisabledError()
    if (!(await this.vectorAvailable())) throw new VectorUnavailableError()
    const [vector] = await embedder.embed([query])
    if (!vector || vector.length === 0 || vector.length !== (embedder.dimensions || vector.length)) {
      throw new Error(`embedder ${embedder.model} returned no usable vector for the query`)
    }
    try {
      return await this.retry(() =>
        semanticSearch(this.reader(tenant), tenant, { model: embedder.model, vector }, filters, limit),
      )
    } catch (err) {
      // The extension was dropped since it was last seen.
      const e = err as { code?: string; message?: string }
      if (e.code === SQLSTATE.UNDEFINED_OBJECT && /\bvector\b/.test(e.message ?? '')) {
        this.vectorOk = { value: false, at: Date.now() }
        throw new VectorUnavailableError()
      }
      throw err
    }
  }

  async vectorAvailable(): Promise<boolean> {
    const c = this.vectorOk
    if (c && (c.value || Date.now() - c.at < 10_000)) return c.value
    const value = await this.retry(() => hasVectorExtension(this.transport.app))
    this.vectorOk = { value, at: Date.now() }
    return value
  }

  /** Stores vectors the client computed (any model), for turns of this tenant. */
  async storeClientVectors(
    tenant: string,
    rows: Array<{ turnId: string; createdAt: Date; model: string; vector: number[] }>,
  ): Promise<void> {
    if (rows.length === 0) return
    await this.retry(() =>
      this.transport.app.query({
        text: `INSERT INTO robot_brain.embeddings (tenant_id, turn_id, model, dimensions, embedding, created_at)
               SELECT ctx.tenant_id, v.turn_id, v.model, cardinality(v.embedding::real[]), v.embedding::real[], v.created_at
               FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
               CROSS JOIN LATERAL unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[])
                 AS v(turn_id, model, embedding, created_at)
               ON CONFLICT (tenant_id, turn_id, model) DO UPDATE
                 SET embedding = excluded.embedding, dimensions = excluded.dimensions`,
        values: [
          tenant,
          rows.map((r) => r.turnId),
          rows.map((r) => r.model),
          rows.map((r) => `{${r.vector.join(',')}}`),
          rows.map((r) => r.createdAt.toISOString()),
        ],
      }),
    )
  }

  backlog(): Promise<number> {
    return this.retry(() => embeddingBacklog(this.transport.owner))
  }

  /** The configured model's vector index (CONCURRENTLY on a server); false without pgvector. */
  async prepareIndex(): Promise<boolean> {
    const e = this.embedder
    if (!e) return false
    if (e.dimensions === 0 && 'probe' in e) await (e as { probe(): Promise<void> }).probe()
    return ensureVectorIndex(this.transport.owner, e.model, e.dimensions, this.transport.driver !== 'pglite')
  }

  /** One batch of the queue (tests, the embed command). */
  workBatch(options: QueueOptions = {}): Promise<BatchResult> {
    if (!this.embedder) throw new EmbeddingsDisabledError()
    return workBatch(this.transport.owner, this.embedder, { openTexts: this.openTexts, ...options })
  }

  /** Queues the turns that have no vector by the configured model. */
  enqueueMissing(onProgress?: (queued: number) => void): Promise<number> {
    if (!this.embedder) throw new EmbeddingsDisabledError()
    return enqueueMissing(this.transport.owner, this.embedder.model, onProgress)
  }

  startWorker(options: ConstructorParameters<typeof EmbeddingWorker>[2] = {}): void {
    if (!this.embedder || this.worker) return
    this.worker = new EmbeddingWorker(this.transport.owner, this.embedder, {
      openTexts: this.openTexts,
      ...options,
      prepare: async () => {
        await this.prepareIndex()
      },
    })
    this.worker.start()
  }

  /** Tells an idle worker that turns were written. */
  poke(): void {
    this.worker?.poke()
  }

  async stopWorker(): Promise<void> {
    const w = this.worker
    this.worker = undefined
    await w?.stop()
  }

  async close(): Promise<void> {
    await this.stopWorker()
    await this.embedder?.close?.()
  }
}
