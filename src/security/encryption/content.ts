// Sealing and opening a tenant's content: turns' user message and robot response, sessions'
// userMetadata (stored as {"$sealed": "<sealed JSON text>"}, still a jsonb object, so the column and its
// checks stay as they are). Opening needs no state for plain values: a tenant never encrypted costs
// nothing on reads.
import { ContentUnreadableError } from './errors.js'
import { isSealed, type SealedField, seal, sealedVersion, tryOpen } from './format.js'
import { dataKey, shredded, type TenantCrypto } from './keyring.js'

export const SEALED_METADATA_KEY = '$sealed'

/** The key new content of this tenant is sealed with; null when the tenant is not encrypted. */
export function sealingKey(c: TenantCrypto): { version: number; key: Uint8Array } | null {
  if (c.version === 0) return null
  if (c.version < 0) throw shredded(c.tenant)
  return { version: c.version, key: dataKey(c, c.version) }
}

export function sealText(c: TenantCrypto, field: SealedField, rowId: string, plain: string): string {
  const k = sealingKey(c)
  return k ? seal(k.key, k.version, plain, { tenant: c.tenant, field, rowId }) : plain
}

export function openText(c: TenantCrypto, field: SealedField, rowId: string, value: string): string {
  const version = sealedVersion(value)
  if (version === null) return value
  const plain = tryOpen(dataKey(c, version), value, { tenant: c.tenant, field, rowId })
  if (plain === null) {
    throw new ContentUnreadableError(
      `the ${field} of ${field === 'user_metadata' ? 'session' : 'turn'} ${rowId} of tenant ${c.tenant} does not decrypt with the tenant's data key ${version}: it was altered, or copied from another row or tenant`,
    )
  }
  return plain
}

export function isSealedMetadata(meta: unknown): meta is { [SEALED_METADATA_KEY]: string } {
  if (!meta || typeof meta !== 'object') return false
  const keys = Object.keys(meta)
  return (
    keys.length === 1 &&
    keys[0] === SEALED_METADATA_KEY &&
    isSealed((meta as Record<string, unknown>)[SEALED_METADATA_KEY])
  )
}

/** {} stays {}: an empty object says nothing, and a turn's session upsert writes it. */
export function sealMetadata(
  c: TenantCrypto,
  sessionId: string,
  meta: Record<string, unknown>,
): Record<string, unknown> {
  if (c.version === 0 || Object.keys(meta).length === 0) return meta
  return { [SEALED_METADATA_KEY]: sealText(c, 'user_metadata', sessionId, JSON.stringify(meta)) }
}

export function openMetadata(
  c: TenantCrypto,
  sessionId: string,
  meta: Record<string, unknown>,
): Record<string, unknown> {
  if (!isSealedMetadata(meta)) return meta
  return JSON.parse(openText(c, 'user_metadata', sessionId, meta[SEALED_METADATA_KEY])) as Record<
    string,
    unknown
  >
}

/** Whether any of these turn rows holds sealed text (then the tenant's keys are needed). */
export function anySealedTurn(rows: Array<{ user_message: string; robot_response: string | null }>): boolean {
  return rows.some((r) => isSealed(r.user_message) || isSealed(r.robot_response))
}

export function openTurnRow<R extends { id: string; user_message: string; robot_response: string | null }>(
  c: TenantCrypto,
  row: R,
): R {
  if (!isSealed(row.user_message) && !isSealed(row.robot_response)) return row
  return {
    ...row,
    user_message: openText(c, 'user_message', row.id, row.user_message),
    robot_response:
      row.robot_response === null ? null : openText(c, 'robot_response', row.id, row.robot_response),
  }
}
