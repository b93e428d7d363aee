// The ciphertext format and AES-256-GCM, with node:crypto, in the application: the database sees
// neither a key nor a plain text.
//
// A sealed text is `rbenc1:<key version>:<base64url of iv (12 bytes) | ciphertext | tag (16 bytes)>`:
// `rbenc1` names this format (a later one gets another prefix and both are read), the key version names
// the tenant's data key, readable by SQL (robot_brain.sealed_with) so the database can refuse a stale
// writer and a rotation can find the rows of an old key. Text, not bytea: it goes in the existing text
// columns (see migration 0014). The associated data binds the tenant, the row and the field, so a
// ciphertext copied to another row, another field or another tenant does not authenticate there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

export const SEALED_PREFIX = 'rbenc1:'
const IV_BYTES = 12
const TAG_BYTES = 16

/** Where a sealed value lives: a turn's user message or robot response, or a session's userMetadata. */
export type SealedField = 'user_message' | 'robot_response' | 'user_metadata'

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(SEALED_PREFIX)
}

/** The data key version a sealed text names, or null when it is not sealed text. */
export function sealedVersion(value: string): number | null {
  if (!isSealed(value)) return null
  const end = value.indexOf(':', SEALED_PREFIX.length)
  const n = Number(value.slice(SEALED_PREFIX.length, end))
  return end > 0 && Number.isInteger(n) && n >= 1 ? n : null
}

function associatedData(tenant: string, field: SealedField, rowId: string, version: number): Buffer {
  // Lengths first, so no combination of values can pass for another.
  const parts = ['rbdb-content-v1', tenant, field, rowId, String(version)]
  return Buffer.from(parts.map((p) => `${Buffer.byteLength(p)}:${p}`).join('\n'))
}

export interface SealContext {
  tenant: string
  field: SealedField
  /** The turn id, or the session id. */
  rowId: string
}

export function seal(key: Uint8Array, version: number, plain: string, at: SealContext): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(associatedData(at.tenant, at.field, at.rowId, version))
  const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return `${SEALED_PREFIX}${version}:${body.toString('base64url')}`
}

/** The plain text, or null when the ciphertext does not authenticate for this tenant, row and field. */
export function tryOpen(key: Uint8Array, sealed: string, at: SealContext): string | null {
  const version = sealedVersion(sealed)
  if (version === null) return null
  const body = Buffer.from(sealed.slice(sealed.indexOf(':', SEALED_PREFIX.length) + 1), 'base64url')
  if (body.length < IV_BYTES + TAG_BYTES) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES))
    decipher.setAAD(associatedData(at.tenant, at.field, at.rowId, version))
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
    return Buffer.concat([
      decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8')
  } catch {
    return null
  }
}

/** Wraps a data key with a master key; the associated data binds tenant, version and master key id. */
export function wrapKey(
  master: Uint8Array,
  dataKey: Uint8Array,
  tenant: string,
  version: number,
  masterId: string,
): Buffer {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', master, iv)
  cipher.setAAD(Buffer.from(`rbdb-data-key-v1\n${tenant}\n${version}\n${masterId}`))
  return Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()])
}

/** The data key, or null when this master key does not open it. */
export function unwrapKey(
  master: Uint8Array,
  wrapped: Buffer,
  tenant: string,
  version: number,
  masterId: string,
): Buffer | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', master, wrapped.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(`rbdb-data-key-v1\n${tenant}\n${version}\n${masterId}`))
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES))
    return Buffer.concat([
      decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)),
      decipher.final(),
    ])
  } catch {
    return null
  }
}
