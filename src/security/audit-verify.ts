// `robot-brain-db audit verify`: walks every chain of the audit log (as the owner, on the direct URL)
// and recomputes each entry's hash in this process, independently of the database's functions. An
// entry that was edited no longer matches its hash; one removed leaves a gap in the positions and a
// broken link; entries reordered (positions or times swapped) match neither. Removing a chain's
// newest entries leaves no trace in the chain itself: compare the heads this prints with a copy kept
// elsewhere (see docs/security.md).
import type { Queryable } from '../db/pool.js'
import { auditEntryHash, GENESIS_HASH } from './audit-hash.js'

export interface AuditProblem {
  tenant: string
  seq: number
  id: string
  problem: string
}

export interface AuditVerifyResult {
  ok: boolean
  entries: number
  /** The newest entry of each chain: keep a copy elsewhere to detect a truncated tail later. */
  heads: Array<{ tenant: string; seq: number; hash: string }>
  /** The first bad entry of each broken chain, in chain order. */
  problems: AuditProblem[]
}

interface Row {
  tenant_id: string
  seq: string
  id: string
  at_us: string
  actor: string
  action: string
  target: string
  details: string
  prev_hash: string
  hash: string
}

const PAGE = `
SELECT a.tenant_id, a.seq::text AS seq, a.id::text AS id,
       ((extract(epoch FROM a.at) * 1000000)::bigint)::text AS at_us,
       a.actor, a.action, a.target, a.details::text AS details,
       encode(a.prev_hash, 'hex') AS prev_hash, encode(a.hash, 'hex') AS hash
FROM robot_brain.audit_log a
WHERE (a.tenant_id, a.seq) > ($1::text, $2::bigint)
ORDER BY a.tenant_id, a.seq
LIMIT $3`

export async function verifyAudit(
  owner: Queryable,
  options: { pageSize?: number; onProgress?: (entries: number) => void } = {},
): Promise<AuditVerifyResult> {
  const pageSize = options.pageSize ?? 5000
  const result: AuditVerifyResult = { ok: true, entries: 0, heads: [], problems: [] }
  let key: [string, string] = ['', '0']
  let chain: { tenant: string; seq: number; hash: string; broken: boolean } | null = null
  const closeChain = () => {
    if (chain) result.heads.push({ tenant: chain.tenant, seq: chain.seq, hash: chain.hash })
  }
  for (;;) {
    const { rows } = await owner.query<Row>({ text: PAGE, values: [key[0], key[1], pageSize] })
    for (const r of rows) {
      result.entries++
      if (!chain || chain.tenant !== r.tenant_id) {
        closeChain()
        chain = { tenant: r.tenant_id, seq: 0, hash: GENESIS_HASH, broken: false }
      }
      const seq = Number(r.seq)
      const problem = check(r, seq, chain.seq, chain.hash)
      if (problem && !chain.broken) {
        chain.broken = true
        result.ok = false
        result.problems.push({ tenant: r.tenant_id, seq, id: r.id, problem })
      }
      chain.seq = seq
      chain.hash = r.hash
    }
    options.onProgress?.(result.entries)
    const last = rows[rows.length - 1]
    if (!last || rows.length < pageSize) break
    key = [last.tenant_id, last.seq]
  }
  closeChain()
  return result
}

/** What is wrong with an entry, given the position and hash of the one before it in its chain. */
function check(r: Row, seq: number, prevSeq: number, prevHash: string): string | null {
  const computed = auditEntryHash({
    tenant: r.tenant_id,
    seq: r.seq,
    id: r.id,
    atUs: r.at_us,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: r.details,
    prevHash: r.prev_hash,
  })
  if (computed !== r.hash) return 'its content does not match its hash (the entry was edited or moved)'
  if (seq !== prevSeq + 1) {
    return prevSeq === 0
      ? `the chain starts at position ${seq}, not 1 (earlier entries were removed)`
      : `position ${prevSeq + 1} is missing after ${prevSeq} (an entry was removed)`
  }
  if (r.prev_hash !== prevHash) {
    return `it does not link to entry ${prevSeq} (an entry before it was removed, replaced or reordered)`
  }
  return null
}

/**
 * Checks heads saved by an earlier `verify` (kept where the database's owner cannot write) against
 * the log now: each saved head must still be there with the same hash. Finds what the chains alone
 * cannot show: newest entries removed, or a whole chain dropped or rebuilt. Adds problems to `result`.
 */
export async function checkSavedHeads(
  owner: Queryable,
  result: AuditVerifyResult,
  saved: Array<{ tenant: string; seq: number; hash: string }>,
): Promise<AuditVerifyResult> {
  for (const head of saved) {
    const { rows } = await owner.query<{ id: string; hash: string }>({
      text: `SELECT a.id::text AS id, encode(a.hash, 'hex') AS hash FROM robot_brain.audit_log a
             WHERE a.tenant_id = $1 AND a.seq = $2`,
      values: [head.tenant, head.seq],
    })
    const now = rows[0]
    if (now?.hash === head.hash) continue
    result.ok = false
    result.problems.push({
      tenant: head.tenant,
      seq: head.seq,
      id: now?.id ?? '',
      problem: now
        ? 'it differs from the saved head (the chain was rewritten)'
        : 'the saved head is gone (the newest entries or the whole chain were removed)',
    })
  }
  return result
}

/** Reads saved heads: the JSON of `audit verify --json` (its `heads`) or a bare array of them. */
export function parseSavedHeads(text: string): Array<{ tenant: string; seq: number; hash: string }> {
  const value = JSON.parse(text) as unknown
  const heads = Array.isArray(value) ? value : (value as { heads?: unknown })?.heads
  if (!Array.isArray(heads))
    throw new Error('expected the JSON of `audit verify --json` or an array of heads')
  return heads.map((h, i) => {
    const { tenant, seq, hash } = (h ?? {}) as Record<string, unknown>
    if (
      typeof tenant !== 'string' ||
      !Number.isInteger(seq) ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(hash)
    ) {
      throw new Error(`heads[${i}] must be {tenant, seq, hash} as verify prints them`)
    }
    return { tenant, seq: seq as number, hash }
  })
}
