// Search quality on the labelled evaluation set (test/search/eval/conversations.json): its turns are
// written through the store and embedded by the configured embedder, then every query runs in each
// mode, and Recall@10 and nDCG@10 (binary relevance) are averaged over the queries. Shared by the
// bench (search suite) and the quality test, so both measure the same thing.
import { readFile } from 'node:fs/promises'
import type { SearchMode, SearchOptions } from '../search/types.js'
import type { Store } from '../store/store.js'

export const EVAL_SET_URL = new URL('../../test/search/eval/conversations.json', import.meta.url)
export const EVAL_K = 10
export const EVAL_MODES: readonly SearchMode[] = ['fulltext', 'semantic', 'hybrid']

export interface EvalSession {
  id: string
  userId: string
  personality: string
  channel: string
  /** ISO 8601: the first turn's time; each next turn one minute later. */
  start: string
  /** [user message, robot response] */
  turns: Array<[string, string]>
}

export interface EvalQuery {
  id: string
  kind: string
  query: string
  filters?: Omit<SearchOptions, 'query' | 'mode' | 'limit'>
  /** Turn ids <session>:<1-based position>. */
  relevant: string[]
}

export interface EvalSet {
  sessions: EvalSession[]
  queries: EvalQuery[]
}

export interface ModeQuality {
  mode: SearchMode
  queries: number
  recallAt10: number
  ndcgAt10: number
  /** The same figures per kind of query (paraphrase, keyword, ...). */
  byKind: Record<string, { queries: number; recallAt10: number; ndcgAt10: number }>
}

export interface QualityResult {
  turns: number
  sessions: number
  queries: number
  embedder: string
  modes: ModeQuality[]
  /** Per query and mode: the labels of the top 10 (for looking into a regression). */
  perQuery: Array<{ id: string; mode: SearchMode; recall: number; ndcg: number; top: string[] }>
}

export async function loadEvalSet(url: URL = EVAL_SET_URL): Promise<EvalSet> {
  const set = JSON.parse(await readFile(url, 'utf8')) as EvalSet
  const ids = new Set(set.sessions.flatMap((s) => s.turns.map((_, i) => `${s.id}:${i + 1}`)))
  for (const q of set.queries) {
    if (q.relevant.length === 0) throw new Error(`eval query ${q.id} has no relevant turn`)
    for (const r of q.relevant) if (!ids.has(r)) throw new Error(`eval query ${q.id}: unknown turn ${r}`)
  }
  return set
}

/** Writes the set's turns through `store` (one tenant); returns turn uuid → label. */
export async function writeEvalSet(store: Store, set: EvalSet): Promise<Map<string, string>> {
  const labels = new Map<string, string>()
  // One session after another (its turns in order), sessions a few at a time.
  const queue = [...set.sessions]
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const t0 = Date.parse(s.start)
      for (const [i, [userMessage, robotResponse]] of s.turns.entries()) {
        const turn = await store.recordTurn({
          sessionId: s.id,
          userId: s.userId,
          robotPersonality: s.personality,
          userMessage,
          robotResponse,
          metadata: { channel: s.channel },
          createdAt: new Date(t0 + i * 60_000).toISOString(),
        })
        labels.set(turn.id, `${s.id}:${i + 1}`)
      }
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return labels
}

/** nDCG@k with binary relevance: DCG of the ranking over the DCG of an ideal one. */
export function ndcgAt(k: number, ranked: string[], relevant: ReadonlySet<string>): number {
  let dcg = 0
  ranked.slice(0, k).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2)
  })
  let ideal = 0
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2)
  return ideal > 0 ? dcg / ideal : 0
}

export function recallAt(k: number, ranked: string[], relevant: ReadonlySet<string>): number {
  const found = ranked.slice(0, k).filter((id) => relevant.has(id)).length
  return relevant.size > 0 ? found / relevant.size : 0
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0)

/** Runs every query of the set in each mode against the written turns. */
export async function evaluate(
  store: Store,
  set: EvalSet,
  labels: Map<string, string>,
  modes: readonly SearchMode[] = EVAL_MODES,
): Promise<QualityResult> {
  const perQuery: QualityResult['perQuery'] = []
  const result: ModeQuality[] = []
  for (const mode of modes) {
    const rows: Array<{ kind: string; recall: number; ndcg: number }> = []
    for (const q of set.queries) {
      const { results } = await store.search({ ...q.filters, query: q.query, mode, limit: EVAL_K })
      const top = results.map((r) => labels.get(r.turn.id) ?? `?${r.turn.id}`)
      const relevant = new Set(q.relevant)
      const recall = recallAt(EVAL_K, top, relevant)
      const ndcg = ndcgAt(EVAL_K, top, relevant)
      rows.push({ kind: q.kind, recall, ndcg })
      perQuery.push({ id: q.id, mode, recall, ndcg, top })
    }
    const byKind: ModeQuality['byKind'] = {}
    for (const kind of [...new Set(rows.map((r) => r.kind))]) {
      const of = rows.filter((r) => r.kind === kind)
      byKind[kind] = {
        queries: of.length,
        recallAt10: mean(of.map((r) => r.recall)),
        ndcgAt10: mean(of.map((r) => r.ndcg)),
      }
    }
    result.push({
      mode,
      queries: rows.length,
      recallAt10: mean(rows.map((r) => r.recall)),
      ndcgAt10: mean(rows.map((r) => r.ndcg)),
      byKind,
    })
  }
  return {
    turns: labels.size,
    sessions: set.sessions.length,
    queries: set.queries.length,
    embedder: store.embedder?.model ?? 'none',
    modes: result,
    perQuery,
  }
}

/** The whole evaluation on a migrated store whose embedder is the one to measure. */
export async function runQualityEval(store: Store, set?: EvalSet): Promise<QualityResult> {
  const evalSet = set ?? (await loadEvalSet())
  const labels = await writeEvalSet(store, evalSet)
  const { failed } = await store.embedPending()
  if (failed > 0) throw new Error(`${failed} eval turns could not be embedded`)
  return evaluate(store, evalSet, labels)
}
