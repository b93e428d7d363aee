// Suite b (and e): history, the last 20 turns of a random session. Baseline: the raw driver's
// SELECT ... ORDER BY created_at DESC, id DESC LIMIT 20 (as the owner: no row-level security).
// Project: store.history (tenant context, row-level security, cursor, row mapping).
import { randomInt } from 'node:crypto'
import { type CompareOptions, compare, runClosedLoop } from './load.js'
import type { ResultRow } from './report.js'
import { BENCH_TENANT, type Target } from './targets.js'

export const HISTORY_LIMIT = 20
export const HISTORY_READERS = 8

const RAW_HISTORY = `
SELECT id, session_id, robot_personality, user_message, robot_response, metadata, created_at
FROM robot_brain.conversations
WHERE tenant_id = $1 AND session_id = $2
ORDER BY created_at DESC, id DESC
LIMIT $3`

function expectFull(n: number, side: string): void {
  // Every loaded session holds more than a page of turns: a short page means the read went wrong.
  if (n !== HISTORY_LIMIT) throw new Error(`history (${side}) returned ${n} turns, expected ${HISTORY_LIMIT}`)
}

export function sizeLabel(turns: number): string {
  return turns >= 1_000_000 ? `${turns / 1_000_000}M` : turns >= 1000 ? `${turns / 1000}k` : String(turns)
}

export async function runHistoryCase(
  target: Target,
  storedTurns: number,
  sessions: number,
  opts: CompareOptions,
): Promise<ResultRow> {
  const pick = () => `h${randomInt(0, sessions)}`
  const cmp = await compare(
    {
      run: (ms) =>
        runClosedLoop(HISTORY_READERS, ms, async () => {
          const { rows } = await target.raw.query({
            text: RAW_HISTORY,
            values: [BENCH_TENANT, pick(), HISTORY_LIMIT],
          })
          expectFull(rows.length, 'raw')
        }),
    },
    {
      run: (ms) =>
        runClosedLoop(HISTORY_READERS, ms, async () => {
          const page = await target.store.history(pick(), { limit: HISTORY_LIMIT })
          expectFull(page.turns.length, 'store')
        }),
    },
    opts,
  )
  return {
    suite: 'history',
    target: target.name,
    case: `last ${HISTORY_LIMIT} of ${sizeLabel(storedTurns)} turns, ${HISTORY_READERS} readers`,
    key: `history.${target.name}.${storedTurns}`,
    unit: 'reads/s',
    baselineName: 'raw SELECT',
    projectName: 'history',
    storedTurns,
    ...cmp,
  }
}
