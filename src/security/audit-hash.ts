// The hash of an audit entry, computed here independently of the database's
// robot_brain.audit_entry_hash (migration 0013): `audit verify` must not trust a function the
// database's owner could replace. Canonical encoding: a version line, then each field as
// "<UTF-8 bytes>:<value>\n", so no value can pass for another field or shift into the next one.
import { createHash } from 'node:crypto'

/** The fields of an entry as the verifier reads them: every value as PostgreSQL's text. */
export interface AuditHashFields {
  tenant: string
  seq: string
  id: string
  /** Microseconds since the epoch. */
  atUs: string
  actor: string
  action: string
  target: string
  /** PostgreSQL's text form of the jsonb details (normalized). */
  details: string
  /** The previous entry's hash, hex. */
  prevHash: string
}

export const AUDIT_HASH_VERSION = 'rbdb-audit-v1'
/** The prev_hash of a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64)

export function canonicalEntry(f: AuditHashFields): string {
  const fields = [f.tenant, f.seq, f.id, f.atUs, f.actor, f.action, f.target, f.details, f.prevHash]
  return `${AUDIT_HASH_VERSION}\n${fields.map((v) => `${Buffer.byteLength(v, 'utf8')}:${v}\n`).join('')}`
}

/** SHA-256 of the canonical encoding, hex. */
export function auditEntryHash(f: AuditHashFields): string {
  return createHash('sha256').update(canonicalEntry(f), 'utf8').digest('hex')
}
