// Hybrid search: reciprocal rank fusion (RRF, k = 60) of the full-text and semantic arms. Each arm
// is index-backed and returns a few times the limit; a turn's score is the sum over the arms of
// 1 / (60 + its rank there), so a turn both arms agree on rises, and neither arm's raw scores (which
// are not comparable) matter.
import type { TurnRow } from '../store/turns.js'

export const RRF_K = 60

export interface Ranked {
  row: TurnRow
  ranks: { fulltext: number | null; semantic: number | null }
  score: number
}

export function fuse(fulltext: TurnRow[], semantic: TurnRow[], limit: number): Ranked[] {
  const byId = new Map<string, Ranked>()
  const add = (rows: TurnRow[], arm: 'fulltext' | 'semantic') => {
    rows.forEach((row, i) => {
      let r = byId.get(row.id)
      if (!r) {
        r = { row, ranks: { fulltext: null, semantic: null }, score: 0 }
        byId.set(row.id, r)
      }
      r.ranks[arm] = i + 1
      r.score += 1 / (RRF_K + i + 1)
    })
  }
  add(fulltext, 'fulltext')
  add(semantic, 'semantic')
  return [...byId.values()]
    .sort((a, b) => b.score - a.score || (a.row.id < b.row.id ? 1 : -1))
    .slice(0, limit)
}
