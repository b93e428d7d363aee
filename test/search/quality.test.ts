// Search quality floors on the labelled evaluation set (test/search/eval/conversations.json), with the
// built-in embedding model (Universal Sentence Encoder lite, offline): 320 turns, 58 queries, each
// mode's Recall@10 and nDCG@10. The floors sit a little under what the current ranking measures, so a
// change that makes search worse fails here; hybrid must match the better single mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type EvalSet,
  evaluate,
  loadEvalSet,
  type QualityResult,
  writeEvalSet,
} from '../../src/bench/search-eval.js'
import { BuiltinEmbedder } from '../../src/search/embedders/builtin.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

/** Measured with the set as committed (see docs/search.md), less a margin for noise across backends. */
const FLOORS = {
  // 0.341 / 0.369 measured: web-search syntax ANDs every word, so paraphrases find nothing here.
  fulltext: { recall: 0.3, ndcg: 0.32 },
  // 0.898 / 0.797 measured
  semantic: { recall: 0.85, ndcg: 0.75 },
  // 0.918 / 0.850 measured
  hybrid: { recall: 0.87, ndcg: 0.8 },
} as const

describe(`search quality on the evaluation set (${backend})`, () => {
  let t: TestStore
  let set: EvalSet
  let quality: QualityResult

  beforeAll(async () => {
    const embedder = new BuiltinEmbedder(false)
    t = await openTestStore('search-quality', { options: { embedder } })
    set = await loadEvalSet()
    const store = t.store.tenant('eval')
    const labels = await writeEvalSet(store, set)
    const { embedded, failed } = await t.store.embedPending()
    expect({ embedded, failed }).toEqual({ embedded: labels.size, failed: 0 })
    quality = await evaluate(store, set, labels)
  }, 240_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('the set is big enough to mean something', () => {
    expect(quality.turns).toBeGreaterThanOrEqual(300)
    expect(quality.queries).toBeGreaterThanOrEqual(40)
    expect(new Set(set.sessions.map((s) => s.personality)).size).toBeGreaterThanOrEqual(4)
    expect(new Set(set.queries.map((q) => q.kind))).toEqual(
      new Set(['paraphrase', 'keyword', 'names-numbers', 'filtered']),
    )
  })

  it('each mode stays above its floor', () => {
    const table = quality.modes.map((m) => ({
      mode: m.mode,
      recall: Number(m.recallAt10.toFixed(3)),
      ndcg: Number(m.ndcgAt10.toFixed(3)),
    }))
    console.log(`Recall@10 / nDCG@10: ${JSON.stringify(table)}`)
    for (const m of quality.modes) {
      expect(m.recallAt10, `${m.mode} Recall@10`).toBeGreaterThanOrEqual(FLOORS[m.mode].recall)
      expect(m.ndcgAt10, `${m.mode} nDCG@10`).toBeGreaterThanOrEqual(FLOORS[m.mode].ndcg)
    }
  })

  it('hybrid scores at least as well as the better single mode', () => {
    const by = Object.fromEntries(quality.modes.map((m) => [m.mode, m]))
    const hybrid = by.hybrid as QualityResult['modes'][number]
    const fulltext = by.fulltext as QualityResult['modes'][number]
    const semantic = by.semantic as QualityResult['modes'][number]
    expect(hybrid.recallAt10).toBeGreaterThanOrEqual(Math.max(fulltext.recallAt10, semantic.recallAt10))
    expect(hybrid.ndcgAt10).toBeGreaterThanOrEqual(Math.max(fulltext.ndcgAt10, semantic.ndcgAt10))
  })
})
