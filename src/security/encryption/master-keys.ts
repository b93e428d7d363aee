// Master keys: from ROBOT_BRAIN_MASTER_KEY (or the store's `masterKey` option), never from the
// database. Format: `id:base64key` entries separated by commas, the first is current (wraps new data
// keys), the others only unwrap data keys not yet rewrapped (`encryption rotate --master-only`). A key
// is 32 random bytes in base64 or base64url (`openssl rand -base64 32`); an id is 1 to 64 of
// A-Z a-z 0-9 . _ -. Errors name the entry by position or id, never a key's bytes.
import { EncryptionKeyError } from './errors.js'

export const MASTER_KEY_ENV = 'ROBOT_BRAIN_MASTER_KEY'

export interface MasterKeys {
  /** The id of the key new data keys are wrapped with. */
  currentId: string
  byId: ReadonlyMap<string, Uint8Array>
}

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/
const B64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/

/** Parses the variable's value; undefined or blank: null (no master key configured). */
export function parseMasterKeys(value: string | undefined, source = MASTER_KEY_ENV): MasterKeys | null {
  if (value === undefined || value.trim() === '') return null
  const byId = new Map<string, Buffer>()
  let currentId: string | undefined
  value.split(',').forEach((raw, i) => {
    const entry = raw.trim()
    const colon = entry.indexOf(':')
    const where = `${source}: entry ${i + 1}`
    if (colon < 0)
      throw new EncryptionKeyError(`${where} must be id:base64key (e.g. k1:$(openssl rand -base64 32))`)
    const id = entry.slice(0, colon)
    const encoded = entry.slice(colon + 1)
    if (!ID_RE.test(id)) throw new EncryptionKeyError(`${where}: the id must be 1 to 64 of A-Z a-z 0-9 . _ -`)
    if (byId.has(id)) throw new EncryptionKeyError(`${where}: the id ${id} is used twice`)
    const key = B64_RE.test(encoded)
      ? Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64')
      : null
    if (key?.length !== 32) {
      throw new EncryptionKeyError(
        `${where} (id ${id}): the key must be 32 bytes in base64 (openssl rand -base64 32)`,
      )
    }
    byId.set(id, key)
    currentId ??= id
  })
  if (!currentId) throw new EncryptionKeyError(`${source} holds no key`)
  return { currentId, byId }
}
